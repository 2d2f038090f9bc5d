"""One try of one callback: sign the payload, check where the URL leads, POST it there.

The body is signed as Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``) by the ``standardwebhooks`` library, with the time of the try. The
host is looked up and checked (``urls.py``) before every try, and the request goes to the
address checked, with the URL's name as ``Host`` and as the TLS server name, so the
certificate is still checked against it. Nothing is followed or read at length: no
redirects, at most :data:`MAX_ANSWER_BYTES` of the answer, :attr:`timeout` seconds in all.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks import Webhook

from micromailer import __version__
from micromailer.callbacks.urls import (
    CallbackUrl,
    RefusedUrlError,
    Resolver,
    check_addresses,
    parse_callback_url,
    resolve,
    system_resolver,
)
from micromailer.delivery.loop_thread import LoopThread
from micromailer.store.base import UtcClock, utcnow

#: Bytes of a receiver's answer read at most (kept for the log when it is not a 2xx).
MAX_ANSWER_BYTES = 1024
#: Characters of that answer kept in ``lastError``.
ANSWER_EXCERPT = 160
#: Seconds to open a connection, at most (within the try's whole timeout).
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A delivery as it is sent: its id (the ``webhook-id``), where, the signing secret and
    the JSON body, exactly as signed."""

    webhook_id: str
    url: str
    secret: str
    payload: str


@dataclass(frozen=True, slots=True)
class TryResult:
    """What one try came to: the receiver's status code if it answered, and why it failed."""

    status_code: int | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(outgoing: Outgoing, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for ``outgoing`` signed at ``at``."""
    signature = Webhook(outgoing.secret).sign(outgoing.webhook_id, at, outgoing.payload)
    return {
        "webhook-id": outgoing.webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


class CallbackSender:
    """Sends callbacks from a thread that may block (a Celery task's), on an event loop of
    its own; ``verify`` is the TLS trust (a test's CA; the system's by default)."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
        clock: UtcClock = utcnow,
    ) -> None:
        self.timeout = timeout
        self._allow_private = allow_private
        self._resolver = resolver
        self._verify = verify
        self._clock = clock
        self._loop = LoopThread("micromailer-callbacks")
        self._client: httpx.AsyncClient | None = None

    def send(self, outgoing: Outgoing) -> TryResult:
        """Check the URL's addresses now, then POST the signed body to the first of them."""
        try:
            target = parse_callback_url(outgoing.url)
            addresses = check_addresses(target, resolve(target, self._resolver),
                                        allow_private=self._allow_private)
        except RefusedUrlError as refused:
            return TryResult(None, _refusal(refused))
        headers = signed_headers(outgoing, self._clock())
        return self._loop.run(self._post(target, str(addresses[0]), headers, outgoing.payload))

    async def _post(
        self, target: CallbackUrl, address: str, headers: dict[str, str], payload: str
    ) -> TryResult:
        """POST to ``address``, naming ``target``'s host in ``Host`` and as the TLS name."""
        client = self._http()
        request = client.build_request(
            "POST", target.url.copy_with(host=address), content=payload.encode(),
            headers={**headers, "host": target.url.netloc.decode("ascii")},
            extensions={"sni_hostname": target.host} if target.https else {},
        )
        try:
            async with asyncio.timeout(self.timeout):
                response = await client.send(request, stream=True)
                try:
                    answer = await _read_bounded(response)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return TryResult(None, f"no answer within {self.timeout:g} s")
        except httpx.ConnectError:
            return TryResult(None, "could not connect to the receiver")
        except httpx.RemoteProtocolError:
            return TryResult(None, "the receiver's answer was not valid HTTP")
        except httpx.HTTPError as exc:
            return TryResult(None, f"the request failed ({type(exc).__name__})")
        return _judged(response.status_code, answer)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # made on the loop's thread, the only one that uses it
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout)),
                # A connection is for one address and one TLS name: never reuse it for another.
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=0),
                follow_redirects=False,
                trust_env=False,  # no proxy or .netrc from the environment
                verify=self._verify,
                headers={"user-agent": f"micromailer/{__version__} (callbacks)"},
            )
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._loop.run(client.aclose())
        self._loop.stop()


async def _read_bounded(response: httpx.Response) -> bytes:
    """At most :data:`MAX_ANSWER_BYTES` of the body; the rest is never read."""
    answer = b""
    async for chunk in response.aiter_raw():
        answer += chunk
        if len(answer) >= MAX_ANSWER_BYTES:
            break
    return answer[:MAX_ANSWER_BYTES]


def _judged(status_code: int, answer: bytes) -> TryResult:
    if 200 <= status_code < 300:
        return TryResult(status_code)
    if 300 <= status_code < 400:
        return TryResult(status_code, f"HTTP {status_code}: redirects are not followed; "
                                      "register the URL that answers")
    excerpt = " ".join(answer.decode("utf-8", "replace").split())[:ANSWER_EXCERPT]
    return TryResult(status_code, f"HTTP {status_code}" + (f": {excerpt}" if excerpt else ""))


#: Why a try was not made, by :attr:`RefusedUrlError.kind`, without the addresses looked up.
_REFUSALS = {
    "unresolved": "the URL's host could not be resolved",
    "not_public": "refused: the URL's host no longer resolves to public addresses only",
}


def _refusal(refused: RefusedUrlError) -> str:
    return _REFUSALS.get(refused.kind, "refused: the URL is no longer accepted")


__all__ = ["CallbackSender", "Outgoing", "TryResult", "signed_headers"]
