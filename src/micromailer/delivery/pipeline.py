"""The API's intake under load: group commit, then batched publishing off the request path.

Requests that arrive while a commit is in flight wait for the next one, and are then stored
together (``batching.GroupBatcher``, the same group commit the worker uses for its claims
and outcomes): one ``INSERT`` of many rows, one commit, one disk flush. Each request is answered
202 once the commit that holds its email returns, exactly as with one commit per request, so a
202 still means "stored". Publishing the deliver tasks happens after, in a thread of its own,
in batches with one wait for the broker's confirms; an email whose publish fails stays
``queued`` and the sweeper publishes it, as with any failed publish.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from anyio import to_thread

from micromailer.delivery.batching import MAX_BATCH, GroupBatcher
from micromailer.delivery.intake import Accepted, Sender, new_email
from micromailer.domain.attempt import NewEmail
from micromailer.domain.validation import EmailRequest
from micromailer.store.repository import EmailStore

log = logging.getLogger(__name__)

PublishMany = Callable[[Sequence[str]], None]


class IntakePipeline:
    """``await accept(request)`` stores the email (grouped with its neighbours) and queues it."""

    def __init__(self, store: EmailStore, publish_many: PublishMany, sender: Sender,
                 max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._sender = sender
        self._writes: GroupBatcher[NewEmail, datetime] = GroupBatcher(
            self._store_batch, "micromailer-intake", max_batch
        )
        self._publisher = _PublisherThread(publish_many, max_batch)

    async def accept(self, request: EmailRequest) -> Accepted:
        new = new_email(request, self._sender)
        created_at = await self._writes.submit(new)
        return Accepted(new.email_id, created_at)

    def _store_batch(self, emails: list[NewEmail]) -> list[datetime]:
        created_at = self._store.add_emails(emails)  # a failure reaches every request of it
        self._publisher.submit([new.email_id for new in emails])
        return [created_at] * len(emails)

    async def close(self) -> None:
        """Stop taking requests; publish what was stored."""
        await to_thread.run_sync(self._writes.close)
        await to_thread.run_sync(self._publisher.stop)


class _PublisherThread:
    """Publishes stored emails' ids in batches, in order, off the event loop."""

    def __init__(self, publish_many: PublishMany, max_batch: int) -> None:
        self._publish_many = publish_many
        self._max_batch = max_batch
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
            self._publish(batch)

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


__all__ = ["IntakePipeline", "PublishMany"]
