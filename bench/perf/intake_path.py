"""``python -m bench.perf.intake_path``: the API's own CPU per ``POST /email``, in process.

Calls the app's ASGI entry directly with ready-made requests (a JSON email, the same as an
urlencoded and a multipart form, and a JSON body missing ``content``), with the intake's
``accept`` replaced by one that stores nothing: what is left is the intake path itself, reading,
parsing, validating and answering. Prints the CPU time of this process per request
(microseconds), the best and the median of ``--repeats`` runs: CPU time, not wall time, so that
other programs on the machine weigh less; its speed still drifts, so compare runs side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.delivery.intake import Accepted
from micromailer.store.migrate import upgrade

EMAIL = {
    "to": "ada@example.com",
    "to_name": "Ada Lovelace",
    "subject": "Your invoice for December",
    "content": "# Hello Ada\n\nYour **invoice** is ready: [see it](https://example.com/i/42).\n",
}
BOUNDARY = "----micromailerbench"


def _multipart(fields: dict[str, str]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


def _form(fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


CASES: dict[str, tuple[str, bytes, int]] = {
    "json 202": ("application/json", json.dumps(EMAIL).encode(), 202),
    "urlencoded 202": ("application/x-www-form-urlencoded", _form(EMAIL), 202),
    "multipart 202": (f"multipart/form-data; boundary={BOUNDARY}", _multipart(EMAIL), 202),
    "json 400": ("application/json",
                 json.dumps({k: v for k, v in EMAIL.items() if k != "content"}).encode(), 400),
}


def _scope(content_type: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/email", "raw_path": b"/email", "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*"),
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }


async def _run(app: Any, content_type: str, body: bytes, expected: int, count: int) -> float:
    """CPU seconds per request over ``count`` requests."""
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    started = time.process_time()
    for _ in range(count):
        await app(_scope(content_type, body), receive, send)
    elapsed = time.process_time() - started
    if set(statuses) != {expected}:
        raise SystemExit(f"expected {expected}, got {sorted(set(statuses))}")
    return elapsed / count


async def _accepted_without_storing(_request: object, _submission: object = None) -> Accepted:
    return Accepted(str(uuid.uuid4()), datetime.now(UTC))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--case", choices=list(CASES), action="append",
                        help="Only these requests (repeatable); every one by default.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch), _env_file=None)  # type: ignore[call-arg]
        upgrade(settings.store_url)  # the key gate reads the (empty) key table
        app = create_app(settings)
        app.state.services.intake.accept = _accepted_without_storing
        print(f"{'request':<16} {'best CPU µs':>11} {'median CPU µs':>13}")
        for name in args.case or CASES:
            content_type, body, expected = CASES[name]
            asyncio.run(_run(app, content_type, body, expected, 500))  # warm up
            runs = [asyncio.run(_run(app, content_type, body, expected, args.requests))
                    for _ in range(args.repeats)]
            print(f"{name:<16} {1e6 * min(runs):>11.1f} {1e6 * statistics.median(runs):>13.1f}")


if __name__ == "__main__":
    main()
