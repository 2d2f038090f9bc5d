"""The logs of a whole distributed run: every line JSON, every email's lines carrying its id,
and not one secret in any of them.

``sandbox``, ``serve`` (with access lines) and ``worker`` run on PostgreSQL, RabbitMQ and Redis
with every credential set to a value of its own: the providers' keys (the fakes accept any key),
the database's, the broker's and Redis's passwords in their URLs, and an API key. Emails are
sent, failed over, retried and refused, requests come with wrong keys; then every line of every
process is read.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from micromailer.security.keys import LIVE_KIND
from tests.support.backends import Backends, fresh_backends
from tests.support.client import ApiClient, SandboxClient
from tests.support.cluster import CLUSTER_TIMINGS
from tests.support.keys import keys_command
from tests.support.processes import ManagedProcess, clean_env, free_port

pytestmark = pytest.mark.e2e

KEY_NAME = "logs-e2e"
STDERR_OF_KEYS_CREATE = "keys create (stderr)"
FIELDS = ("time", "level", "logger", "message")


@dataclass(frozen=True)
class Secrets:
    """Each credential's distinctive value, by name; none may appear in a log."""

    values: dict[str, str]
    database_url: str
    broker_url: str
    redis_url: str


@dataclass
class Run:
    """What the run left: each process's log, the emails, the key."""

    logs: dict[str, str]
    secrets: dict[str, str]
    emails: dict[str, dict[str, Any]]
    retried: str
    refused: str


def _token() -> str:
    return secrets.token_hex(12)


@contextmanager
def _database_role(backends: Backends, password: str) -> Iterator[str]:
    """The fresh database, owned by a new role whose URL carries ``password``; the role goes
    once the database is dropped (:func:`fresh_backends` drops it first)."""
    url = make_url(backends.database_url)
    role = f"mm_logs_{_token()}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")  # type: ignore[arg-type]
        connection.execute(f'ALTER DATABASE "{url.database}" OWNER TO {role}')  # type: ignore[arg-type]
    try:
        yield url.set(username=role, password=password).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')  # type: ignore[arg-type]
            connection.execute(f"DROP ROLE IF EXISTS {role}")  # type: ignore[arg-type]


@contextmanager
def _redis_user(redis_url: str, password: str) -> Iterator[str]:
    """A Redis ACL user with ``password`` and every right; its URL."""
    user = f"mm_logs_{_token()}"
    client = redis.Redis.from_url(redis_url)
    client.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"],
                       channels=["*"], commands=["+@all"])
    try:
        url = make_url(redis_url)
        yield f"redis://{user}:{password}@{url.host}:{url.port or 6379}/{url.database or 0}"
    finally:
        client.acl_deluser(user)


@contextmanager
def _broker_user(broker_url: str, password: str) -> Iterator[str | None]:
    """A RabbitMQ user with ``password`` on the test's vhost, made with ``rabbitmqctl`` where
    it is at hand (its URL); ``None`` where it is not (a broker in a container)."""
    if shutil.which("rabbitmqctl") is None:
        yield None
        return
    user = f"mm_logs_{_token()}"
    scheme, rest = broker_url.split("://", 1)
    address, _, vhost = rest.split("@", 1)[-1].partition("/")
    made = _rabbitmqctl("add_user", user, password) and _rabbitmqctl(
        "set_permissions", "-p", vhost or "/", user, ".*", ".*", ".*"
    )
    try:
        yield f"{scheme}://{user}:{password}@{address}/{vhost}" if made else None
    finally:
        _rabbitmqctl("delete_user", user)


def _rabbitmqctl(*args: str) -> bool:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="module")
def credentials() -> Iterator[Secrets]:
    values = {
        "SENDGRID_API_KEY": f"SG.logsecret-{_token()}",
        "MANDRILL_API_KEY": f"md-logsecret-{_token()}",
        "database password": f"pglogsecret{_token()}",
        "Redis password": f"redislogsecret{_token()}",
        "broker password": f"amqplogsecret{_token()}",
    }
    with ExitStack() as stack:
        backends = stack.enter_context(fresh_backends())
        database_url = stack.enter_context(_database_role(backends, values["database password"]))
        redis_url = stack.enter_context(_redis_user(backends.redis_url, values["Redis password"]))
        broker_url = stack.enter_context(
            _broker_user(backends.broker_url, values["broker password"])
        )
        if broker_url is None:  # the test broker's own user, whose password is not ours
            del values["broker password"]
        yield Secrets(values, database_url, broker_url or backends.broker_url, redis_url)


@pytest.fixture(scope="module")
def run(credentials: Secrets, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("log-secrets")
    sandbox_port, api_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = clean_env(
        **CLUSTER_TIMINGS,
        MICROMAILER_DATA_DIR=str(root / "var"),
        MICROMAILER_DATABASE_URL=credentials.database_url,
        MICROMAILER_BROKER_URL=credentials.broker_url,
        MICROMAILER_REDIS_URL=credentials.redis_url,
        SENDGRID_API_KEY=credentials.values["SENDGRID_API_KEY"],
        MANDRILL_API_KEY=credentials.values["MANDRILL_API_KEY"],
        MICROMAILER_SENDGRID_BASE_URL=sandbox_url,
        MICROMAILER_MANDRILL_BASE_URL=sandbox_url,
    )
    sandbox = ManagedProcess(["sandbox", "--port", str(sandbox_port)], env, root / "sandbox.log")
    api = ManagedProcess(["serve", "--port", str(api_port), "--access-log"], env,
                         root / "api.log")
    worker = ManagedProcess(["worker", "-c", "4", "-n", "logs@%h"], env, root / "worker.log")
    processes = [sandbox, api, worker]
    try:
        sandbox.start().wait_http(f"{sandbox_url}/_sandbox/sendgrid/stats")
        api.start().wait_http(f"http://127.0.0.1:{api_port}/readyz")
        made = keys_command(env, "create", KEY_NAME)
        assert made.returncode == 0, made.stderr
        api_key = made.stdout.split()[-1]
        worker.start().wait_log(" ready.")
        wrong_key = f"mm_live_{secrets.token_urlsafe(32)}"
        emails, retried, refused = _traffic(
            ApiClient(f"http://127.0.0.1:{api_port}", key=api_key), SandboxClient(sandbox_url),
            wrong_key,
        )
    finally:
        for process in reversed(processes):
            process.stop()
    searched = {
        **credentials.values,
        "the API key": api_key,
        "the API key's secret part": api_key.removeprefix(LIVE_KIND),
        "the wrong API key": wrong_key,
    }
    logs = {process.log_path.name: process.log_path.read_text(errors="replace")
            for process in processes}
    logs[STDERR_OF_KEYS_CREATE] = made.stderr
    return Run(logs, searched, emails, retried, refused)


def _traffic(
    client: ApiClient, sandbox: SandboxClient, wrong_key: str
) -> tuple[dict[str, dict[str, Any]], str, str]:
    """Emails sent, failed over, retried to the end and refused; requests with wrong keys."""
    accepted = [_accept(client, "jane@example.com", f"sent {n}") for n in range(3)]
    sandbox.set_faults("sendgrid", failRate=1.0, status=503)
    accepted.append(_accept(client, "joe@example.com", "failed over"))
    retried = _accept(client, "temp-fail@simulator.micromailer.test", "retried")
    refused = _accept(client, "perm-fail@simulator.micromailer.test", "refused")
    invalid = client.post_json(to="not-an-address", subject="x", content="x")
    assert invalid.status_code == 400, invalid.text
    for header in (f"Bearer {wrong_key}", f"Bearer {wrong_key} extra", f"Basic {wrong_key}"):
        response = client.http.post(f"{client.url}/email", headers={"Authorization": header},
                                    json={"to": "jane@example.com", "subject": "no",
                                          "content": "no"})
        assert response.status_code == 401, response.text
    final = client.wait_final([*accepted, retried, refused], timeout=120)
    assert final[retried]["status"] == "failed", final[retried]
    assert "gave up after" in final[retried]["error"], final[retried]
    assert final[refused]["status"] == "failed", final[refused]
    assert {final[email_id]["status"] for email_id in accepted} == {"sent"}, final
    return final, retried, refused


def _accept(client: ApiClient, to: str, subject: str) -> str:
    response = client.post_json(to=to, subject=subject, content="Hello *there*")
    assert response.status_code == 202, response.text
    email_id: str = response.json()["emailId"]
    return email_id


def _lines(run: Run) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every process's lines, parsed (``keys create`` is a command, not a process's log)."""
    for name, text in run.logs.items():
        if name == STDERR_OF_KEYS_CREATE:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield name, number, json.loads(line)


def test_no_secret_is_in_any_log(run: Run) -> None:
    leaks = [
        f"{what} in {name}, line {number}"
        for what, value in run.secrets.items()
        for name, text in run.logs.items()
        for number, line in enumerate(text.splitlines(), 1)
        if value in line
    ]

    assert len(run.secrets) >= 8, run.secrets.keys()
    assert not leaks, leaks


def test_every_line_of_every_process_is_a_json_object_with_the_four_fields(run: Run) -> None:
    bad = []
    for name, text in run.logs.items():
        if name == STDERR_OF_KEYS_CREATE:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            try:
                fields = json.loads(line)
            except ValueError:
                bad.append(f"{name}:{number}: not JSON: {line[:200]}")
                continue
            if not isinstance(fields, dict) or not all(field in fields for field in FIELDS):
                bad.append(f"{name}:{number}: missing fields: {line[:200]}")
                continue
            stamp = datetime.fromisoformat(fields["time"])
            if stamp.utcoffset() != timedelta(0):
                bad.append(f"{name}:{number}: time not in UTC: {fields['time']}")

    assert not bad, "\n".join(bad)
    assert all(run.logs[name].strip() for name in ("sandbox.log", "api.log", "worker.log"))


def test_uvicorns_and_celerys_own_lines_are_json_too(run: Run) -> None:
    loggers = {(name, line["logger"]) for name, _, line in _lines(run)}

    assert ("api.log", "uvicorn.error") in loggers
    assert ("api.log", "uvicorn.access") in loggers
    assert ("sandbox.log", "uvicorn.error") in loggers
    assert ("worker.log", "celery.apps.worker") in loggers
    messages = [line["message"] for name, _, line in _lines(run) if name == "worker.log"]
    assert any(message.endswith(" ready.") for message in messages), messages
    assert "worker: Warm shutdown (MainProcess)" in messages


def test_every_line_about_an_email_carries_its_id(run: Run) -> None:
    unlabelled = [
        f"{name}:{number}: {line}"
        for name, number, line in _lines(run)
        for email_id in run.emails
        if email_id in line["message"] and line.get("email_id") != email_id
    ]
    labelled = {line.get("email_id") for name, _, line in _lines(run) if name == "worker.log"}

    assert not unlabelled, "\n".join(unlabelled)
    # The retried email's attempts and both failures are logged, each line with its id.
    assert {run.retried, run.refused} <= labelled


def test_the_lines_of_a_keyed_request_name_the_key(run: Run) -> None:
    posts = [line for name, _, line in _lines(run)
             if line["logger"] == "uvicorn.access" and '"POST /email ' in line["message"]]

    keyed = [line for line in posts if " 202" in line["message"]]
    refused = [line for line in posts if " 401" in line["message"]]
    assert keyed and {line.get("key") for line in keyed} == {KEY_NAME}
    assert refused and all("key" not in line for line in refused)
