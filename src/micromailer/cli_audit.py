"""``micromailer audit``: the audit log, newest last; and the key events the CLI records."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from micromailer.cli_support import load_settings

if TYPE_CHECKING:  # the store loads SQLAlchemy: only when a command runs
    from sqlalchemy import Engine

    from micromailer.domain.audit import AuditEvent

#: A relative age: a number and a unit (30m, 24h, 7d, 2w; s for seconds).
_AGE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: Characters that could break a line of the plain output, shown escaped.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_when(value: str, now: datetime | None = None) -> datetime:
    """``WHEN`` as an aware UTC datetime: an ISO-8601 time (UTC unless it says otherwise) or a
    relative age before ``now`` (``30m``, ``24h``, ``7d``). Raises ``ValueError``."""
    text = value.strip()
    age = _AGE.fullmatch(text)
    if age:
        now = now or datetime.now(UTC)
        return now - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither an ISO-8601 time (2026-03-01T12:00:00Z) nor an age such as "
            "30m, 24h or 7d"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _since(_: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


@click.command()
@click.option("--since", default=None, metavar="WHEN", callback=_since,
              help="Only events at or after WHEN: an ISO-8601 time, or an age (30m, 24h, 7d).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True,
              help="At most this many events, the newest.")
def audit(since: datetime | None, as_json: bool, limit: int) -> None:
    """The audit log, oldest first: keys created and revoked, emails accepted, refused
    authentications (sampled). Never content or secrets."""
    from micromailer.store.audit import AuditStore

    events = AuditStore(_engine()).events(since=since, limit=limit)
    if as_json:
        click.echo(json.dumps([event.to_json() for event in events]))
        return
    for event in events:
        click.echo(format_event(event))


def format_event(event: AuditEvent) -> str:
    """One line: the time, the kind, then each field that is set."""
    fields = [
        ("key", event.key_name), ("project", event.project), ("client", event.client),
        ("email", event.email_id), ("idempotency-key", event.idempotency_key),
    ]
    line = " ".join(
        [event.at.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{event.kind:<22}"]
        + [f"{name}={_printable(value)}" for name, value in fields if value is not None]
    )
    if event.detail:
        line += f" | {_printable(event.detail)}"
    return line


def _printable(value: str) -> str:
    return _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], value)


def record_key_event(engine: Engine, kind: str, name: str, project: str | None,
                     detail: str | None = None) -> None:
    """Write a key event (``key.created``, ``key.revoked``) to the audit log; a failure is
    told on stderr, the key's change already done."""
    from micromailer.store.audit import AuditStore

    try:
        AuditStore(engine).record(kind, key_name=name, project=project, detail=detail)
    except Exception as exc:
        click.echo(f"warning: the audit log could not record this ({exc})", err=True)


def _engine() -> Engine:
    from micromailer.store.engine import make_engine
    from micromailer.store.migrate import upgrade

    settings = load_settings()
    upgrade(settings.store_url)
    return make_engine(settings.store_url, pool_size=1)


__all__ = ["audit", "format_event", "parse_when", "record_key_event"]
