"""The API's intake under load: group commit, then batched publishing off the request path.

Requests that arrive while a commit is in flight wait for the next one, and are then stored
together: one ``INSERT`` of many rows, one commit, one disk flush. Each request is answered
202 once the commit that holds its email returns, exactly as with one commit per request, so a
202 still means "stored". Publishing the deliver tasks happens after, in a thread of its own,
in batches with one wait for the broker's confirms; an email whose publish fails stays
``queued`` and the sweeper publishes it, as with any failed publish.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from anyio import to_thread

from micromailer.delivery.intake import Accepted, Sender, new_email
from micromailer.domain.attempt import NewEmail
from micromailer.domain.validation import EmailRequest
from micromailer.store.repository import EmailStore

log = logging.getLogger(__name__)

#: Most emails stored by one commit, and published between two waits for confirms.
MAX_BATCH = 256

PublishMany = Callable[[Sequence[str]], None]


class IntakePipeline:
    """``await accept(request)`` stores the email (grouped with its neighbours) and queues it."""

    def __init__(self, store: EmailStore, publish_many: PublishMany, sender: Sender,
                 max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._sender = sender
        self._max_batch = max_batch
        self._pending: asyncio.Queue[tuple[NewEmail, asyncio.Future[datetime]]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._publisher = _PublisherThread(publish_many, max_batch)

    async def accept(self, request: EmailRequest) -> Accepted:
        new = new_email(request, self._sender)
        future: asyncio.Future[datetime] = asyncio.get_running_loop().create_future()
        self._queue().put_nowait((new, future))
        created_at = await future
        return Accepted(new.email_id, created_at)

    def _queue(self) -> asyncio.Queue[tuple[NewEmail, asyncio.Future[datetime]]]:
        if self._pending is None:
            self._pending = asyncio.Queue()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_batches())
        return self._pending

    async def _write_batches(self) -> None:
        pending = self._queue()
        while True:
            batch = [await pending.get()]
            while len(batch) < self._max_batch and not pending.empty():
                batch.append(pending.get_nowait())
            emails = [new for new, _ in batch]
            try:
                created_at = await to_thread.run_sync(self._store.add_emails, emails)
            except Exception as exc:  # the store is down: every request of the batch hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(created_at)
            self._publisher.submit([new.email_id for new in emails])

    async def close(self) -> None:
        """Stop taking requests; publish what was stored."""
        if self._writer is not None:
            self._writer.cancel()
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


__all__ = ["MAX_BATCH", "IntakePipeline", "PublishMany"]
