"""``micromailer keys``: create, list and revoke API keys (the secret is shown once)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import click

from micromailer.cli_audit import record_key_event
from micromailer.cli_support import load_settings
from micromailer.config import Settings
from micromailer.domain.audit import AuditKind
from micromailer.security.principal import SCOPES

if TYPE_CHECKING:  # the store loads SQLAlchemy: only when a command runs
    from micromailer.store.keys import KeyStore

#: Names of keys and projects: short, printable, safe in logs and URLs.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _rate(_: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        from micromailer.security.rate_policy import parse_rate_limit  # loads `limits`

        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param=param) from None
    return value


def _name(_: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not NAME_PATTERN.fullmatch(value):
        raise click.BadParameter(
            "use 1 to 100 letters, digits, dots, dashes or underscores, starting with a letter "
            "or digit", param=param,
        )
    return value


@click.group()
def keys() -> None:
    """API keys: clients send one as `Authorization: Bearer <key>`.

    Authentication is on as soon as one live key exists (or with MICROMAILER_REQUIRE_AUTH).
    """


@keys.command("create")
@click.argument("name", callback=_name)
@click.option("--project", default=None, callback=_name,
              help="The key's project (default: one named after the key).")
@click.option("--scope", type=click.Choice(SCOPES), default="send", show_default=True,
              help="send: send and read its project's emails; admin: every project, the "
                   "sandbox controls and /metrics.")
@click.option("--test", is_flag=True,
              help="A test key: its emails go to the sandbox fakes, never to a provider.")
@click.option("--rate", default=None, metavar="LIMIT", callback=_rate,
              help="This key's rate limit (e.g. 100/second); default MICROMAILER_RATE_LIMIT.")
def create(name: str, project: str | None, scope: str, test: bool, rate: str | None) -> None:
    """Create a key and print it once, as the last word of the output."""
    from micromailer.store.keys import KeyNameTaken

    store = _key_store(load_settings())
    try:
        view, secret = store.create(name, project=project, scope=scope, test=test,
                                    rate_limit=rate)
    except KeyNameTaken as exc:
        raise click.ClickException(f"{exc}; choose another name or revoke that one") from None
    kind = "test " if view.test else ""
    click.echo(f"Created {kind}{view.scope} key {view.name!r} in project {view.project!r}. "
               "It is shown this once; keep it now:")
    click.echo(secret)
    record_key_event(store.engine, AuditKind.KEY_CREATED, view.name, view.project,
                     f"{kind}{view.scope} key, prefix {view.prefix}")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_keys(as_json: bool) -> None:
    """Every key, live and revoked, by creation time: never the secrets."""
    views = _key_store(load_settings()).list_keys()
    if as_json:
        click.echo(json.dumps([view.to_json() for view in views]))
        return
    click.echo(f"{'name':<20} {'project':<20} {'scope':<6} {'test':<5} {'prefix':<13} "
               f"{'rate':<14} {'created':<20} revoked")
    for view in views:
        revoked = view.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if view.revoked_at else "-"
        click.echo(
            f"{view.name:<20} {view.project:<20} {view.scope:<6} {str(view.test).lower():<5} "
            f"{view.prefix:<13} {view.rate_limit or '-':<14} "
            f"{view.created_at.strftime('%Y-%m-%d %H:%M:%S'):<20} {revoked}"
        )


@keys.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke a key: every API process refuses it within seconds."""
    store = _key_store(load_settings())
    if not store.revoke(name):
        raise click.ClickException(f"there is no live key named {name!r} (see `keys list`)")
    click.echo(f"Revoked key {name!r}.")
    project = next((view.project for view in store.list_keys() if view.name == name), None)
    record_key_event(store.engine, AuditKind.KEY_REVOKED, name, project)


def _key_store(settings: Settings) -> KeyStore:
    from micromailer.store.engine import make_engine
    from micromailer.store.keys import KeyStore
    from micromailer.store.migrate import upgrade

    upgrade(settings.store_url)
    return KeyStore(make_engine(settings.store_url))


__all__ = ["NAME_PATTERN", "keys"]
