"""The API's intake under load: group commit, then batched publishing off the request path.

Requests that arrive while a commit is in flight are stored together in the next one (one
``INSERT``, one commit), and each is answered 202 once the commit holding its email returns:
a 202 still means "stored". Deliver tasks are published afterwards, in batches, from a thread
of their own; an email whose publish fails stays ``queued`` for the sweeper. Why the intervals
are what they are: docs/performance.md.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from anyio import CapacityLimiter, to_thread

from micromailer.delivery.batching import MAX_BATCH, GroupBatcher
from micromailer.delivery.carriage import Carriage, MessageRefused
from micromailer.delivery.intake import (
    Accepted,
    Sender,
    Submission,
    check_carriage,
    new_email,
)
from micromailer.domain.attempt import NewEmail
from micromailer.domain.idempotency import ReservationLost
from micromailer.domain.rendering import RenderedContent, render_markdown
from micromailer.domain.validation import EmailRequest
from micromailer.logs import email_context
from micromailer.store.emails import EmailStore

log = logging.getLogger(__name__)


def suppressed_sentence(address: str) -> str:
    """Why an email to a suppressed address is refused, and how to send it anyway."""
    return (
        f"{address} is on this project's suppression list (it bounced hard, complained or was "
        "added by hand), so the message was not sent. Remove it with DELETE "
        "/suppressions/{address}, or send with \"ignore_suppressions\": true."
    )

PublishMany = Callable[[Sequence[str]], None]
#: Which ``(project, address)`` pairs are suppressed (``SuppressionStore.suppressed``).
SuppressedAmong = Callable[[Sequence[tuple[str, str]]], set[tuple[str, str]]]

#: Seconds from the start of one publish to the start of the next, at the least.
PUBLISH_INTERVAL = 0.03
#: Seconds from the start of one commit of new emails to the start of the next, at the least.
STORE_INTERVAL = 0.005
#: Content longer than this many characters is rendered in a thread, so the event loop answers
#: other requests meanwhile; shorter content, nearly every email, renders on the loop in less
#: time than the hop to a thread takes, and even hostile Markdown this short in milliseconds
#: (docs/performance.md). At most RENDER_THREADS such renders at once: they share the GIL
#: with the loop.
RENDER_ON_LOOP_MAX_CHARS = 2048
RENDER_THREADS = 2


class IntakePipeline:
    """``await accept(request)`` stores the email (grouped with its neighbours) and queues it."""

    def __init__(self, store: EmailStore, publish_many: PublishMany, sender: Sender,
                 max_batch: int = MAX_BATCH, publish_interval: float = PUBLISH_INTERVAL,
                 store_interval: float = STORE_INTERVAL, carriage: Carriage | None = None,
                 suppressed_among: SuppressedAmong | None = None) -> None:
        self._store = store
        self._sender = sender
        self._carriage = carriage
        self._suppressed_among = suppressed_among
        self._writes: GroupBatcher[NewEmail, datetime | str | None] = GroupBatcher(
            self._store_batch, "micromailer-intake", max_batch, min_interval=store_interval
        )
        self._publisher = _PublisherThread(publish_many, max_batch, publish_interval)
        self._render_threads = CapacityLimiter(RENDER_THREADS)

    async def render(self, content: str) -> RenderedContent:
        """``content`` rendered, on the loop when short, else in one of the render threads
        (``POST /preview`` shares them, so hostile previews queue behind the same limit)."""
        if len(content) <= RENDER_ON_LOOP_MAX_CHARS:
            return render_markdown(content)
        return await to_thread.run_sync(render_markdown, content, limiter=self._render_threads)

    async def accept(
        self, request: EmailRequest, submission: Submission = Submission()
    ) -> Accepted:
        """Store and queue the email; raises ``MessageRefused`` when it is over the limits or
        no provider can carry it, ``ReservationLost`` when its ``Idempotency-Key`` was taken
        over before its commit (nothing is stored then)."""
        rendered = (
            await self.render(request.content) if request.content is not None
            else RenderedContent(request.html or "", request.text or "")
        )
        new = new_email(request, self._sender, rendered, submission)
        if self._carriage is not None:
            check_carriage(self._carriage, new)
        with email_context(new.email_id):
            created_at = await self._writes.submit(new)
        if created_at is None:
            raise ReservationLost(new.email_id)
        if isinstance(created_at, str):
            raise MessageRefused(suppressed_sentence(created_at))
        return Accepted(new.email_id, created_at)

    def _store_batch(self, emails: list[NewEmail]) -> list[datetime | str | None]:
        """Store a group; for each email its creation time, ``None`` when its
        ``Idempotency-Key`` was lost, or the suppressed address that kept it out."""
        refused = self._suppressed(emails)
        kept = [new for new in emails if new.email_id not in refused]
        stored = self._store.add_emails(kept)  # a failure reaches every request of it
        self._publisher.submit([new.email_id for new in kept if new.email_id not in stored.lost])
        return [
            refused.get(new.email_id)
            or (None if new.email_id in stored.lost else stored.created_at)
            for new in emails
        ]

    def _suppressed(self, emails: list[NewEmail]) -> dict[str, str]:
        """The emails with a recipient on their project's suppression list (one query for the
        group), each with that address."""
        wanted = [(new.project or "", address) for new in emails
                  if not new.ignore_suppressions for address in new.recipients]
        if self._suppressed_among is None or not wanted:
            return {}
        found = self._suppressed_among(wanted)
        if not found:
            return {}
        refused: dict[str, str] = {}
        for new in emails:
            hit = next((address for address in new.recipients
                        if (new.project or "", address) in found), None)
            if hit is not None and not new.ignore_suppressions:
                refused[new.email_id] = hit
        return refused

    async def close(self) -> None:
        """Stop taking requests; publish what was stored."""
        await to_thread.run_sync(self._writes.close)
        await to_thread.run_sync(self._publisher.stop)


class _PublisherThread:
    """Publishes stored emails' ids in batches, in order, off the event loop."""

    def __init__(
        self, publish_many: PublishMany, max_batch: int, interval: float = PUBLISH_INTERVAL
    ) -> None:
        self._publish_many = publish_many
        self._max_batch = max_batch
        self._interval = interval
        self._ids: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, email_ids: Sequence[str]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="micromailer-publisher", daemon=True
                )
                self._thread.start()
        for email_id in email_ids:
            self._ids.put(email_id)

    def _run(self) -> None:
        while True:
            first = self._ids.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._ids.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._publish(batch)
                    return
                batch.append(item)
            started = time.monotonic()
            self._publish(batch)
            if len(batch) < self._max_batch:  # a full batch: more are waiting, go on
                time.sleep(max(0.0, started + self._interval - time.monotonic()))

    def _publish(self, batch: list[str]) -> None:
        try:
            self._publish_many(batch)
        except Exception as exc:  # stored and queued: the sweeper publishes them later
            log.warning("could not publish %d stored email(s) (%s); the sweeper will",
                        len(batch), exc)

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._ids.put(None)
            self._thread.join(timeout)


__all__ = [
    "PUBLISH_INTERVAL", "RENDER_ON_LOOP_MAX_CHARS", "RENDER_THREADS", "STORE_INTERVAL",
    "IntakePipeline", "PublishMany",
]
