"""``micromailer``: run, serve, worker, sandbox, send, status, providers, simulate, keys,
audit, db."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from micromailer.cli_audit import audit
from micromailer.cli_keys import keys
from micromailer.cli_retry import retry
from micromailer.cli_support import load_settings
from micromailer.config import DEFAULT_SANDBOX_PORT, Settings
from micromailer.logs import CONSOLE, JSON, configure_logging

if TYPE_CHECKING:
    from celery import Celery
    from prometheus_client import CollectorRegistry

log = logging.getLogger("micromailer")

#: A worker passes each email between threads (Celery's, the delivery loop, the store's batch
#: threads); a thread woken by I/O waits for the GIL up to this long while another computes.
#: Python's default, 5 ms, made every hand-off a queue (docs/performance.md).
WORKER_GIL_SWITCH_INTERVAL = 0.0005


_settings = load_settings


def _require_delivery(settings: Settings) -> None:
    """Refuse to start a process that would accept or take emails it can never deliver:
    without credentials, only an asked-for sandbox (``MICROMAILER_SANDBOX_URL``) will do."""
    reason = settings.unconfigured_reason()
    if reason is not None:
        raise click.ClickException(reason)


def _start_logging(settings: Settings, default: str, level: str = "INFO") -> dict[str, Any]:
    """Log as ``MICROMAILER_LOG_FORMAT`` says, else in the command's ``default`` (JSON for the
    services, console text for ``run`` and the commands a person types); the configuration,
    for uvicorn."""
    return configure_logging(settings.log_format or default, level)


@click.group()
@click.version_option(package_name="micromailer")
def main() -> None:
    """micromailer: a transactional email relay with health-scored provider failover."""


# -- running the service ---------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--sandbox-port", default=DEFAULT_SANDBOX_PORT, show_default=True, type=int,
              help="Port of the fake providers when no credentials are set.")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log each request (client address, method, path, status).")
def run(host: str, port: int, sandbox_port: int, access_log: bool) -> None:
    """Embedded mode: the API and a worker together (and the sandbox without credentials)."""
    from micromailer.embedded import (
        child_env,
        children,
        free_loopback_port,
        reachable_url,
        spawn,
        wait_until_up,
    )

    settings = _settings()
    log_config = _start_logging(settings, CONSOLE)
    # The children log as this process does, not as their own commands would by default; the
    # fakes (the sandbox's, or the worker's for test keys) send their events to this API.
    env: dict[str, str] = {
        "MICROMAILER_DATA_DIR": str(settings.data_dir),
        "MICROMAILER_LOG_FORMAT": settings.log_format or CONSOLE,
        "MICROMAILER_SANDBOX_EVENTS_URL": settings.sandbox_events_url or reachable_url(host, port),
    }
    _upgrade(settings)
    with children() as started:
        if not settings.has_credentials:  # the one command that chooses the sandbox itself
            sandbox_url = f"http://127.0.0.1:{sandbox_port}"
            env["MICROMAILER_SANDBOX_URL"] = sandbox_url
            sandbox = spawn(["sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)],
                            child_env(**env))
            started.append(sandbox)
            wait_until_up(f"{sandbox_url}/_sandbox/sendgrid/stats", sandbox)
            settings = _settings(sandbox_url=sandbox_url)
            click.secho(
                f"SANDBOX MODE: no provider credentials are set. Emails go to the fake "
                f"providers at {sandbox_url} and reach nobody.", fg="yellow", bold=True, err=True,
            )
        # The worker serves its metrics on loopback; the API's GET /metrics adds them.
        metrics_port = free_loopback_port()
        started.append(spawn(["worker", "--metrics-host", "127.0.0.1",
                              "--metrics-port", str(metrics_port)], child_env(**env)))
        settings = settings.model_copy(
            update={"worker_metrics_url": f"http://127.0.0.1:{metrics_port}/metrics"}
        )
        click.echo(f"micromailer API on http://{host}:{port}  (docs: /docs)", err=True)
        _serve(settings, host, port, log_config, access_log=access_log)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", "-w", default=1, show_default=True, type=click.IntRange(1),
              help="API processes sharing the port.")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log each request (client address, method, path, status).")
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """The API alone (distributed mode: run as many as needed)."""
    settings = _settings()
    _require_delivery(settings)
    log_config = _start_logging(settings, JSON)
    _upgrade(settings)
    _serve(settings, host, port, log_config, workers, access_log=access_log)


def _serve(settings: Settings, host: str, port: int, log_config: dict[str, Any],
           workers: int = 1, *, access_log: bool = False) -> None:
    import uvicorn

    from micromailer.api.app import create_app

    # The bind address is one of the Host names the API answers by default.
    settings = settings.model_copy(update={"bind_host": host})
    options = server_options(settings, host, port, log_config, access_log=access_log)
    if workers > 1:  # each process builds its app from the same environment
        os.environ["MICROMAILER_BIND_HOST"] = host
        uvicorn.run("micromailer.api.app:create_app", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)


def server_options(
    settings: Settings, host: str, port: int, log_config: dict[str, Any] | None = None,
    *, access_log: bool = False,
) -> dict[str, Any]:
    """uvicorn's options for the API: the address, the fast loop and parser, our logging
    (uvicorn's lines in the same format; access lines only when asked for: nginx, or whatever
    is in front, logs requests too), and forwarded headers believed from
    ``MICROMAILER_TRUSTED_PROXIES`` only."""
    from micromailer.security.proxies import uvicorn_proxy_options

    return {
        "host": host, "port": port, "loop": "uvloop", "http": "httptools",
        "log_config": log_config, "access_log": access_log, "log_level": "info",
        **uvicorn_proxy_options(settings.trusted_proxies),
    }


@main.command()
@click.option("--concurrency", "-c", type=int, default=None,
              help="Emails in flight at once in this process (threads).")
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.option("--hostname", "-n", default=None,
              help="Worker name, unique per worker (default micromailer-PID@HOST).")
@click.option("--events", "-E", is_flag=True, help="Send task events (for Flower's task views).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve Prometheus metrics at /metrics on this port "
                   "(default: MICROMAILER_WORKER_METRICS_PORT; unset: none).")
@click.option("--metrics-host", default="0.0.0.0", show_default=True,
              help="Address the metrics port listens on.")
def worker(concurrency: int | None, loglevel: str, hostname: str | None, events: bool,
           metrics_port: int | None, metrics_host: str) -> None:
    """A Celery worker that delivers emails and callbacks, with the sweeper."""
    from celery.signals import worker_shutdown, worker_shutting_down

    from micromailer.queue.batch_publisher import BatchPublisher
    from micromailer.queue.callback_publisher import CallbackPublisher
    from micromailer.queue.celery_app import QUEUE_NAME, create_celery
    from micromailer.queue.cleanup import Cleaner
    from micromailer.queue.sweeper import Sweeper, sweep_once
    from micromailer.queue.worker_logging import adopt_celery_logging

    settings = _settings()
    _require_delivery(settings)
    _start_logging(settings, JSON, loglevel.upper())
    _upgrade(settings)
    sys.setswitchinterval(WORKER_GIL_SWITCH_INTERVAL)
    app = create_celery(settings)
    runtime = app.conf.micromailer_runtime()
    metrics_port = metrics_port or settings.worker_metrics_port
    if metrics_port is not None:
        _serve_worker_metrics(runtime.metrics.registry, metrics_host, metrics_port)
    publish_many = BatchPublisher(app).publish_many
    sweep_callbacks = partial(sweep_once, runtime.callback_deliveries,
                              CallbackPublisher(app).publish_many, settings.sweep_after,
                              "callback delivery")
    sweep_once(runtime.sweeps, publish_many, settings.sweep_after)
    sweep_callbacks()
    Sweeper(runtime.sweeps, publish_many, sweep_after=settings.sweep_after,
            interval=settings.sweep_interval, also=[sweep_callbacks]).start()
    Cleaner.for_settings(settings, runtime.sweeps.engine).start()
    probes = runtime.probes
    if probes is not None:  # MICROMAILER_PROBE_INTERVAL: closed as the worker's shutdown begins
        probes.start()
        worker_shutting_down.connect(lambda **_: probes.close(), weak=False)
    # Celery's start-up banner is text for a console, printed rather than logged.
    quiet = ["--quiet"] if (settings.log_format or JSON) == JSON else []
    argv = [
        *quiet,
        "worker", "--pool=threads", f"--concurrency={concurrency or settings.worker_concurrency}",
        f"--queues={QUEUE_NAME}", f"--loglevel={loglevel}",
        f"--hostname={hostname or f'micromailer-{os.getpid()}@{socket.gethostname()}'}",
        "--without-gossip", "--without-mingle",
    ]
    if settings.celery_broker_url.startswith("sqla+"):
        argv.append("--without-heartbeat")  # no fanout on the SQL transport: nobody listens
    if events:
        argv.append("--task-events")
    adopt_celery_logging()
    worker_shutdown.connect(_finish_deliveries(app, settings.lease_seconds), weak=False)
    app.worker_main(argv)


def _serve_worker_metrics(registry: CollectorRegistry, host: str, port: int) -> None:
    from micromailer.queue.exporter import serve_worker_metrics

    try:
        serve_worker_metrics(registry, host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve the worker's metrics on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    log.info("worker metrics on http://%s:%d/metrics", host, port)


def _finish_deliveries(app: Celery, timeout: float) -> Callable[..., None]:
    """On a warm shutdown, let the emails in flight on the delivery loop finish, so their
    claims are not left to expire; a message whose ack no longer reaches the broker comes
    back, and the store, which has its outcome, skips it."""

    def finish(**_: object) -> None:
        deliveries = getattr(app.conf, "micromailer_deliveries", None)
        if deliveries is not None and not deliveries.drain(timeout):
            log.warning("emails still in flight after %.0f s; their claims expire", timeout)

    return finish


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_SANDBOX_PORT, show_default=True, type=int)
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of requests every fake answers with --status.")
@click.option("--status", "fault_status", type=int, default=503, show_default=True)
@click.option("--latency-ms", type=click.IntRange(0), default=0, show_default=True)
@click.option("--allowed-hosts", default="", metavar="NAMES",
              help="Host names answered besides the localhost names and --host, "
                   "comma-separated (the name workers reach it by, e.g. sandbox).")
@click.option("--smtp-port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the SMTP fake (0: a free one; GET /_sandbox/smtp/server says).")
@click.option("--events-url", default=None, metavar="URL",
              help="The service's URL the fakes send their providers' signed events to "
                   "(<URL>/webhooks/<provider>); default: MICROMAILER_SANDBOX_EVENTS_URL, "
                   "unset: no events.")
def sandbox(host: str, port: int, fail_rate: float, fault_status: int, latency_ms: int,
            allowed_hosts: str, smtp_port: int, events_url: str | None) -> None:
    """The fake providers alone, with fault injection, message capture and events."""
    from micromailer.sandbox.server import run_sandbox
    from micromailer.security.hosts import parse_host_patterns

    try:
        names = parse_host_patterns(allowed_hosts, "--allowed-hosts") if allowed_hosts else []
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    settings = _settings(sandbox_events_url=events_url) if events_url else _settings()
    log_config = _start_logging(settings, JSON)
    faults = {"failRate": fail_rate, "status": fault_status, "latencyMs": latency_ms}
    log.info("micromailer sandbox on http://%s:%d", host, port)
    run_sandbox(host, port, faults=faults, allowed_hosts=names, log_config=log_config,
                smtp_port=smtp_port, events_url=settings.sandbox_events_url,
                events_delay=settings.sandbox_events_delay)


# -- using the service -----------------------------------------------------------------------


@main.command()
@click.option("--to", required=True, help="Recipient address(es), comma-separated.")
@click.option("--to-name", default=None)
@click.option("--cc", default=None, help="Copy recipients, comma-separated.")
@click.option("--bcc", default=None, help="Hidden recipients, comma-separated.")
@click.option("--from", "sender", default=None,
              help="Sender, of MICROMAILER_SENDER_DOMAINS.")
@click.option("--subject", required=True)
@click.option("--content", required=True, help="Markdown body.")
@click.option("--attach", "attachments", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file to attach (repeatable).")
@click.option("--wait/--no-wait", default=False, help="Wait for a final status.")
def send(to: str, to_name: str | None, cc: str | None, bcc: str | None, sender: str | None,
         subject: str, content: str, attachments: tuple[Path, ...], wait: bool) -> None:
    """Queue an email (straight into the store and broker, as the API does) and print its id."""
    import mimetypes

    from micromailer.api.deps import build_services
    from micromailer.delivery.carriage import MessageRefused
    from micromailer.domain.message import Attachment
    from micromailer.domain.validation import InvalidEmailRequest, parse_email_request

    settings = _settings()
    _start_logging(settings, CONSOLE)
    files = [
        Attachment(path.name, mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                   path.read_bytes())
        for path in attachments
    ]
    try:
        request = parse_email_request(
            {"to": to, "to_name": to_name, "cc": cc, "bcc": bcc, "from": sender,
             "subject": subject, "content": content, "attachments": files},
            settings.sender_domain_list(),
        )
    except InvalidEmailRequest as exc:
        raise click.UsageError(exc.message) from exc
    _upgrade(settings)
    services = build_services(settings)

    async def accept() -> str:
        try:
            return (await services.intake.accept(request)).email_id
        finally:
            await services.intake.close()  # publishes what was stored

    try:
        email_id = asyncio.run(accept())
    except MessageRefused as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(email_id)
    if wait:
        while (view := services.store.get_email(email_id)) and not view.status.is_final:
            time.sleep(0.2)
        _print_status(email_id, services.store)


@main.command()
@click.argument("email_id")
def status(email_id: str) -> None:
    """Show an email's status and attempts (JSON, as GET /email/ID)."""
    _print_status(email_id, _store(_settings()))


def _print_status(email_id: str, store: Any) -> None:
    from micromailer.api.schemas import EmailOut

    view = store.get_email(email_id)
    if view is None:
        click.echo(json.dumps({"status": "notfound", "emailId": email_id}))
        sys.exit(1)
    click.echo(EmailOut.from_view(view).model_dump_json(by_alias=True, indent=2))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def providers(as_json: bool) -> None:
    """Configured providers and their live scores."""
    from micromailer.health.live import BoardUnavailableError, read_live_scores

    settings = _settings()
    _start_logging(settings, CONSOLE)
    load_saved = _health_snapshots(settings).load_health if _store_exists(settings) else list
    try:
        scores = read_live_scores(settings, load_saved)
    except BoardUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        rows = [{"name": s.name, "kind": s.kind, "score": round(s.score, 4),
                 "baseScore": s.base_score} for s in scores]
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'provider':<12} {'kind':<10} {'score':>7} {'base':>5} {'health':>7}")
    for s in scores:
        click.echo(
            f"{s.name:<12} {s.kind:<10} {s.score:>7.2f} {s.base_score:>5.0f} {s.health:>7.3f}"
        )
    if not settings.has_credentials:
        click.echo("(sandbox mode: no provider credentials are set)")


@main.command()
# 5 is simulate.suite.DEFAULT_SEEDS, written out so that `micromailer` starts without loading it.
@click.option("--seeds", default=5, show_default=True, type=click.IntRange(1),
              help="Runs per scenario and strategy (seeds 0 … N-1), pooled.")
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME",
              help="Only this scenario (repeatable; default: all).")
@click.option("--strategy", "strategies", multiple=True, metavar="NAME",
              help="Only this strategy (repeatable; default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print ONE JSON array of rows.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write PNG figures into this directory.")
@click.option("--service-bases", is_flag=True,
              help="Base scores 50, 49, 48… as the service gives them (default: the study's).")
@click.option("--processes", "-j", type=click.IntRange(1), default=None,
              help="Processes to run on (default: every core).")
@click.option("--sweep", is_flag=True,
              help="With --plot: also sweep outage lengths (original vs breaker).")
def simulate(seeds: int, scenarios: tuple[str, ...], strategies: tuple[str, ...],
             as_json: bool, plot_dir: Path | None, service_bases: bool,
             processes: int | None, sweep: bool) -> None:
    """Compare selection strategies on simulated provider failures (docs/selection.md)."""
    from micromailer.simulate.command import SimulateOptions, run_simulate
    from micromailer.simulate.extra import MissingExtraError

    options = SimulateOptions(seeds, scenarios, strategies, as_json, plot_dir, service_bases,
                              processes, sweep)
    try:
        click.echo(run_simulate(options))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from exc


main.add_command(keys)
main.add_command(audit)
main.add_command(retry)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run again)."""
    settings = _settings()
    _start_logging(settings, CONSOLE)
    _upgrade(settings)
    click.echo("database is up to date")


def _upgrade(settings: Settings) -> None:
    from micromailer.store.migrate import upgrade

    upgrade(settings.store_url)


def _store(settings: Settings) -> Any:
    from micromailer.store.emails import EmailStore
    from micromailer.store.engine import make_engine

    return EmailStore(make_engine(settings.store_url))


def _health_snapshots(settings: Settings) -> Any:
    from micromailer.store.engine import make_engine
    from micromailer.store.health_snapshots import HealthSnapshotStore

    return HealthSnapshotStore(make_engine(settings.store_url))


def _store_exists(settings: Settings) -> bool:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    url = make_url(settings.store_url)
    return url.get_backend_name() != "sqlite" or Path(url.database or "").exists()


__all__ = ["main"]
