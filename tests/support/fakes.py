"""Test doubles for the delivery layer: a hand-moved clock, scripted providers, factories.

The providers are real :class:`~micromailer.providers.base.ProviderAdapter` subclasses: the
base's own steps (build → call → classify → parse) run unchanged, only the network is swapped
for an :class:`httpx.MockTransport` that plays a script of answers.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from micromailer.domain.attempt import NewEmail
from micromailer.domain.message import Address, Message
from micromailer.providers.base import ProviderAdapter, SendResult
from micromailer.providers.errors import RecipientRejectedError
from micromailer.store.base import UtcClock, utcnow
from micromailer.store.claims import ClaimStore
from micromailer.store.emails import EmailStore
from micromailer.store.engine import make_engine
from micromailer.store.health_snapshots import HealthSnapshotStore
from micromailer.store.migrate import upgrade
from micromailer.store.models import EmailRow
from micromailer.store.stats import StatsStore
from micromailer.store.sweep import SweepStore

#: An arbitrary, fixed start of time for fake clocks.
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """One time source the test moves by hand.

    Call it for an aware UTC datetime (the store's and the dispatcher's clock); use
    :meth:`seconds` for the same instant as seconds since the epoch (the board's clock).
    With ``tick``, every call moves time on by that many seconds after answering, so
    successive readings are strictly ordered.
    """

    def __init__(self, start: datetime = T0, *, tick: float = 0.0) -> None:
        self.now = start
        self._tick = timedelta(seconds=tick)

    def __call__(self) -> datetime:
        now = self.now
        self.now += self._tick
        return now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# -- scripted providers -------------------------------------------------------------------

#: One scripted answer: a response to return, or an exception for the transport to raise.
Answer = httpx.Response | Exception


def accepted(message_id: str = "msg-1") -> httpx.Response:
    return httpx.Response(200, json={"status": "sent", "id": message_id})


def recipient_refused(reason: str = "hard-bounce") -> httpx.Response:
    return httpx.Response(200, json={"status": "rejected", "reason": reason})


def http_error(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, text=f"error body {status}")


def network_down() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


class ScriptedAdapter(ProviderAdapter):
    """A provider answering from a script; the last answer repeats once the script runs out.

    A 200 body ``{"status": "sent", "id": ...}`` is a success; ``{"status": "rejected"}``
    refuses the recipient, as Mandrill does. ``calls`` counts the requests that reached it;
    a ``journal`` shared by several adapters records the order in which they were called.
    With a ``gate``, each answer waits until the gate is set, without holding the event loop;
    ``while_sending`` runs while a request is at the provider (time passes, another worker
    takes the email over…).
    """

    kind = "scripted"

    def __init__(
        self, name: str, *answers: Answer, journal: list[str] | None = None,
        gate: threading.Event | None = None,
        while_sending: Callable[[], object] | None = None,
    ) -> None:
        assert answers, "a scripted provider needs at least one answer"
        self._script = list(answers)
        self._journal = journal
        self._gate = gate
        self._while_sending = while_sending
        self.calls = 0
        self.requests: list[httpx.Request] = []
        handler = self._answer if gate is None else self._answer_once_open
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        super().__init__(
            api_key="test-key", base_url=f"https://{name}.test", client=client, name=name
        )

    def send(self, message: Message) -> SendResult:
        """The blocking send (the dispatcher's simulation path), over the same async client."""
        return asyncio.run(self.send_async(message))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        self.requests.append(request)
        if self._journal is not None:
            self._journal.append(self.name)
        if self._while_sending is not None:
            self._while_sending()
        answer = self._script.pop(0) if len(self._script) > 1 else self._script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def _answer_once_open(self, request: httpx.Request) -> httpx.Response:
        answer = self._answer(request)
        assert self._gate is not None
        while not self._gate.is_set():
            await asyncio.sleep(0.005)
        return answer

    def build_request(self, message: Message) -> httpx.Request:
        return self._client.build_request(
            "POST", f"{self.base_url}/send",
            json={"to": message.to[0].email, "id": message.email_id},
        )

    def parse_success(self, response: httpx.Response) -> SendResult:
        data: dict[str, Any] = response.json()
        if data.get("status") == "rejected":
            raise RecipientRejectedError(
                self.name,
                f"recipient {data.get('reason', 'rejected')}",
                status_code=response.status_code,
                body=response.text,
            )
        return SendResult(self.name, data.get("id"), raw=data)


def calls(adapters: Sequence[ScriptedAdapter]) -> dict[str, int]:
    return {adapter.name: adapter.calls for adapter in adapters}


# -- factories ----------------------------------------------------------------------------


def make_message(
    *, to_email: str = "alice@example.com", to_name: str | None = "Alice Example",
    sender_email: str = "billing@example.org", sender_name: str | None = "Example Billing",
    **overrides: Any,
) -> Message:
    """A message as the delivery layer hands it to an adapter; override any field.

    ``to_email``/``to_name`` make its one ``to`` recipient and ``sender_*`` its sender,
    unless ``to`` or ``sender`` are given."""
    fields: dict[str, Any] = {
        "email_id": str(uuid.uuid4()),
        "to": (Address(to_email, to_name),),
        "subject": "Your receipt",
        "html": "<p>Thanks, <strong>Alice</strong>.</p>",
        "text": "Thanks, Alice.",
        "sender": Address(sender_email, sender_name),
    }
    fields.update(overrides)
    return Message(**fields)


def make_new_email(**overrides: Any) -> NewEmail:
    fields: dict[str, Any] = {
        "email_id": str(uuid.uuid4()),
        "to_email": "alice@example.com",
        "to_name": "Alice Example",
        "subject": "Your receipt",
        "content": "Thanks, **Alice**.",
        "html": "<p>Thanks, <strong>Alice</strong>.</p>",
        "text": "Thanks, **Alice**.",
        "sender_email": "billing@example.org",
        "sender_name": "Example Billing",
    }
    fields.update(overrides)
    return NewEmail(**fields)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'store.sqlite3'}"


@dataclass
class Stores:
    """Every part of the store on one engine, as a worker and an API share one database."""

    engine: Engine
    emails: EmailStore
    claims: ClaimStore
    sweeps: SweepStore
    snapshots: HealthSnapshotStore
    stats: StatsStore

    def add(self, **overrides: Any) -> str:
        """Store a new email (``make_new_email(**overrides)``); its id."""
        new = make_new_email(**overrides)
        self.emails.add_email(new)
        return new.email_id

    def row(self, email_id: str) -> EmailRow:
        """The email's row as the database holds it now."""
        with Session(self.engine) as session:
            found = session.get(EmailRow, email_id)
            assert found is not None, f"no row for email {email_id}"
            return found


def stores_on(engine: Engine, clock: UtcClock = utcnow) -> Stores:
    return Stores(engine, EmailStore(engine, clock), ClaimStore(engine, clock),
                  SweepStore(engine, clock), HealthSnapshotStore(engine, clock),
                  StatsStore(engine, clock))


def migrated_stores(directory: Path, clock: FakeClock, *, pool_size: int = 2) -> Stores:
    """A real SQLite store under ``directory``, migrated by Alembic, on ``clock``."""
    url = sqlite_url(directory)
    upgrade(url)
    return stores_on(make_engine(url, pool_size=pool_size), clock)


@contextmanager
def stores_in(kind: str, directory: Path, clock: FakeClock) -> Iterator[Stores]:
    """Migrated stores on ``clock`` in a fresh ``sqlite`` file under ``directory`` or a fresh
    ``postgresql`` database, disposed of on the way out."""
    from tests.support.backends import fresh_backends

    with ExitStack() as cleanup:
        if kind == "sqlite":
            stores = migrated_stores(directory, clock)
        else:
            database_url = cleanup.enter_context(fresh_backends()).database_url
            upgrade(database_url)
            stores = stores_on(make_engine(database_url, pool_size=2), clock)
        cleanup.callback(stores.engine.dispose)
        yield stores


__all__ = [
    "T0",
    "Answer",
    "FakeClock",
    "ScriptedAdapter",
    "Stores",
    "accepted",
    "calls",
    "http_error",
    "make_message",
    "make_new_email",
    "migrated_stores",
    "network_down",
    "recipient_refused",
    "sqlite_url",
    "stores_in",
    "stores_on",
]
