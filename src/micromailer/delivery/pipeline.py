"""The API's intake under load: group commit, then batched publishing off the request path.

Requests that arrive while a commit is in flight are stored together in the next one (one
``INSERT``, one commit), and each is answered 202 once the commit holding its email returns:
a 202 still means "stored". A batch (``POST /emails``) is one group: its emails share a
commit, never split. Deliver tasks are published afterwards, in batches, from a thread of
their own; an email whose publish fails stays ``queued`` for the sweeper. Why the intervals
are what they are: docs/performance.md.

Every email, alone or in a batch, passes :meth:`IntakePipeline.admit` between validation and
the store: the one place where an email is checked before it is stored.
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
#: Emails stored in one commit, all or none.
Group = tuple[NewEmail, ...]
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
        self._writes: GroupBatcher[Group, datetime | None] = GroupBatcher(
            self._store_batch, "micromailer-intake", max_batch, min_interval=store_interval,
            weight=len,
        )
        # The suppression lists of requests that arrive together are read in one query.
        self._lookups: GroupBatcher[Group, dict[str, str]] = GroupBatcher(
            self._lookup_batch, "micromailer-suppressions", max_batch,
            min_interval=store_interval, weight=len,
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
        [admitted] = await self.admit([request], submission)
        if isinstance(admitted, str):
            raise MessageRefused(admitted)
        with email_context(admitted.email_id):
            created_at = await self.store_group([admitted])
        return Accepted(admitted.email_id, created_at)

    async def admit(
        self, requests: Sequence[EmailRequest], submission: Submission = Submission()
    ) -> list[NewEmail | str]:
        """Each validated request rendered into the email to store, or the sentence saying why
        it cannot be accepted (over the limits, no provider can carry it, a suppressed
        recipient): every email passes here between validation and the store, so a rule about
        what may be stored belongs here. One request renders as :meth:`render` decides;
        several in one of the render threads, off the event loop."""
        if not requests:
            return []
        if len(requests) == 1:
            request = requests[0]
            rendered = (await self.render(request.content) if request.content is not None
                        else _own_parts(request))
            admitted = [self._admit(request, rendered, submission)]
        else:
            admitted = await to_thread.run_sync(
                self._admit_all, requests, submission, limiter=self._render_threads
            )
        return await self._unsuppressed(admitted)

    def _admit_all(
        self, requests: Sequence[EmailRequest], submission: Submission
    ) -> list[NewEmail | str]:
        return [self._admit(request, _rendered_here(request), submission) for request in requests]

    def _admit(
        self, request: EmailRequest, rendered: RenderedContent, submission: Submission
    ) -> NewEmail | str:
        new = new_email(request, self._sender, rendered, submission)
        if self._carriage is not None:
            try:
                check_carriage(self._carriage, new)
            except MessageRefused as refused:
                return str(refused)
        return new

    async def _unsuppressed(self, admitted: list[NewEmail | str]) -> list[NewEmail | str]:
        """``admitted`` with each email to an address on its project's suppression list
        replaced by the sentence refusing it (unless its request said to ignore the list)."""
        news = tuple(new for new in admitted if isinstance(new, NewEmail)
                     and new.recipients and not new.ignore_suppressions)
        if self._suppressed_among is None or not news:
            return admitted
        refused = await self._lookups.submit(news)
        return [
            suppressed_sentence(refused[new.email_id])
            if isinstance(new, NewEmail) and new.email_id in refused else new
            for new in admitted
        ]

    def _lookup_batch(self, groups: list[Group]) -> list[dict[str, str]]:
        """The suppressed emails of every group, in one query, each with its address."""
        refused = self._suppressed([new for group in groups for new in group])
        return [{new.email_id: refused[new.email_id] for new in group
                 if new.email_id in refused} for group in groups]

    def _suppressed(self, emails: list[NewEmail]) -> dict[str, str]:
        """The emails with a recipient on their project's suppression list, each with that
        address."""
        assert self._suppressed_among is not None
        wanted = [(new.project or "", address) for new in emails for address in new.recipients]
        found = self._suppressed_among(wanted)
        if not found:
            return {}
        refused: dict[str, str] = {}
        for new in emails:
            hit = next((address for address in new.recipients
                        if (new.project or "", address) in found), None)
            if hit is not None:
                refused[new.email_id] = hit
        return refused

    async def store_group(self, emails: Sequence[NewEmail]) -> datetime:
        """Store ``emails`` in one commit (with whatever else is being stored then) and queue
        them; when they were committed. Raises ``ReservationLost`` when their
        ``Idempotency-Key`` was taken over before the commit: then none is stored."""
        if not emails:
            raise ValueError("an empty group of emails has nothing to store")
        created_at = await self._writes.submit(tuple(emails))
        if created_at is None:
            raise ReservationLost(emails[0].email_id)
        return created_at

    def _store_batch(self, groups: list[Group]) -> list[datetime | None]:
        emails = [new for group in groups for new in group]
        stored = self._store.add_emails(emails)  # a failure reaches every request of it
        self._publisher.submit([new.email_id for new in emails if new.email_id not in stored.lost])
        return [
            None if any(new.email_id in stored.lost for new in group) else stored.created_at
            for group in groups
        ]

    def requeue(self, email_id: str) -> None:
        """Publish ``email_id`` again as a new email is published (a retry by hand): off the
        request path, and left to the sweeper if the broker cannot take it."""
        self._publisher.submit([email_id])

    async def close(self) -> None:
        """Stop taking requests; publish what was stored."""
        await to_thread.run_sync(self._lookups.close)
        await to_thread.run_sync(self._writes.close)
        await to_thread.run_sync(self._publisher.stop)


def _own_parts(request: EmailRequest) -> RenderedContent:
    """A request's own ``html`` and ``text``, sent as given."""
    return RenderedContent(request.html or "", request.text or "")


def _rendered_here(request: EmailRequest) -> RenderedContent:
    return (render_markdown(request.content) if request.content is not None
            else _own_parts(request))


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
    "Group", "IntakePipeline", "PublishMany",
]
