"""A bounded load generator: POST a fixed number of emails from a few threads."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    accepted: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    bodies: dict[int, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def progress(self) -> int:
        with self.lock:
            return sum(self.statuses.values())


def post_many(
    urls: list[str], count: int, *, threads: int = 8, rate: float | None = None, tag: str = "load",
    result: LoadResult | None = None,
) -> LoadResult:
    """POST ``count`` emails round-robin over ``urls``; optionally paced at ``rate`` per second."""
    result = result or LoadResult()
    local = threading.local()
    start = time.monotonic()

    def post(n: int) -> None:
        if rate:
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=30)
        body = {"to": f"user{n}@example.com", "subject": f"{tag} {n}", "content": f"Email *{n}*"}
        try:
            response = client.post(f"{urls[n % len(urls)]}/email", json=body)
            status, text = response.status_code, response.text
        except httpx.TransportError as exc:
            status, text = 0, repr(exc)
        with result.lock:
            result.statuses[status] += 1
            if status == 202:
                result.accepted.append(response.json()["emailId"])
            else:
                result.bodies.setdefault(status, text)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(count)))
    result.finished = time.monotonic()
    return result


def in_background(target: object, *args: object, **kwargs: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


__all__ = ["LoadResult", "in_background", "post_many"]
