"""A hostile Markdown body at the size limit never stalls the API: ``/healthz`` answers meanwhile.

The issue's reproducer, nested brackets, made ``/healthz`` wait 12 s with 75 KB of content.
Here the content fills the 512 KiB limit; the test asks ``/healthz`` again and again while the
POST is in flight and wants every answer within a second (the one timed assertion the issue
asks for). Each request has a bounded timeout, so a stalled server fails the test rather than
hanging it.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from micromailer.domain.validation import MAX_CONTENT_BYTES
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

#: ``[[[…a](u)](u)…`` filling the content limit: the issue's reproducer, at full size.
DEPTH = (MAX_CONTENT_BYTES - 1) // len("[](u)")
NESTED_BRACKETS = "[" * DEPTH + "a" + "](u)" * DEPTH


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/email", {"to": "jane@example.com", "subject": "x", "content": NESTED_BRACKETS}),
        ("/preview", {"content": NESTED_BRACKETS}),
    ],
    ids=["email", "preview"],
)
def test_healthz_answers_within_a_second_while_a_hostile_body_is_rendered(
    service: EmbeddedService, path: str, body: dict[str, str]
) -> None:
    posting = ThreadPoolExecutor(max_workers=1)
    posted = posting.submit(httpx.post, f"{service.url}{path}", json=body, timeout=60)
    posting.shutdown(wait=False)
    time.sleep(0.3)  # the body is on its way: 512 KiB over loopback takes a few milliseconds

    waits: list[float] = []
    with httpx.Client(timeout=5) as client:
        while not posted.done():
            started = time.monotonic()
            assert client.get(f"{service.url}/healthz").status_code == 200
            if not posted.done():  # only what was asked and answered during the POST counts
                waits.append(time.monotonic() - started)
            time.sleep(0.05)

    assert posted.result().status_code in (200, 202), posted.result().text[:500]
    assert waits, "the POST was answered before /healthz could be asked; nothing was shown"
    assert max(waits) < 1.0, f"/healthz took {max(waits):.2f} s while {path} rendered: {waits}"
