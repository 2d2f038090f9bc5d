"""The simulated world: a clock, reproducible draws, and providers that raise the real errors.

:class:`SimulatedAdapter` is a real :class:`~micromailer.providers.base.ProviderAdapter` as
far as the Dispatcher can tell: ``send`` returns a :class:`SendResult` or raises the error
classes of :mod:`micromailer.providers.errors`, as the HTTP adapters do. A try that takes time
parks the email's greenlet until the simulated clock reaches its end, so other emails are
ranked meanwhile, as in a worker with many emails in flight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from micromailer.domain.message import Address, Message
from micromailer.providers.base import ProviderAdapter, SendResult
from micromailer.providers.errors import (
    NetworkError,
    ProviderError,
    RateLimitedError,
    ServerError,
)
from micromailer.simulate.faults import Answer, ErrorKind
from micromailer.simulate.scenarios import SimProvider

_MASK = (1 << 64) - 1
_EPOCH = datetime(2016, 1, 1, tzinfo=UTC)


class SimClock:
    """Simulated seconds since the start of the run; callable, as boards expect a clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self._utc = (0.0, _EPOCH)

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        """The same instant as a datetime, for the Dispatcher's try records."""
        at, stamp = self._utc
        if at != self.now:
            stamp = _EPOCH + timedelta(seconds=self.now)
            self._utc = (self.now, stamp)
        return stamp


def _mix(x: int) -> int:
    """SplitMix64's finaliser: a well-spread 64-bit hash of a 64-bit counter."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class Draws:
    """Uniform draws for one provider, a pure function of (seed, scenario, provider, email,
    attempt): every strategy meets the same luck, and no draw depends on the order of tries."""

    def __init__(self, seed: int, scenario: str, provider: str) -> None:
        digest = hashlib.blake2b(f"{seed}/{scenario}/{provider}".encode(), digest_size=8)
        self._key = int.from_bytes(digest.digest(), "big")

    def pair(self, email: int, attempt: int) -> tuple[float, float]:
        base = self._key ^ (email << 8 | attempt << 2)
        return _mix(base) / 2.0**64, _mix(base ^ 1) / 2.0**64


#: Suspends the running email for simulated seconds (see :class:`~.engine.Engine`).
Sleep = Callable[[float], None]
#: The email being sent right now and its attempt number (1-based).
Current = Callable[[], tuple[int, int]]


class SimulatedAdapter(ProviderAdapter):
    """A provider whose answers come from a :class:`~.faults.Behaviour` instead of HTTP."""

    kind = "simulated"

    def __init__(
        self,
        provider: SimProvider,
        draws: Draws,
        clock: SimClock,
        current: Current,
        sleep: Sleep,
    ) -> None:
        # No HTTP: the base's client, key and URL are never used.
        self.name = provider.name
        self.base_url = f"sim://{provider.name}"
        self.behaviour = provider.behaviour
        self._draws = draws
        self._clock = clock
        self._current = current
        self._sleep = sleep

    def answer(self, email: int, attempt: int, t: float) -> Answer:
        """What a try of ``email``'s attempt would come to at ``t`` (the oracle asks too)."""
        u, v = self._draws.pair(email, attempt)
        return self.behaviour.answer(t, u, v)

    def send(self, message: Message) -> SendResult:
        # Which email this is comes from the engine: one message object serves a whole run,
        # as building 18,000 of them would be most of the cost of a send.
        email, attempt = self._current()
        answer = self.answer(email, attempt, self._clock.now)
        if answer.seconds > 0.0:
            self._sleep(answer.seconds)
        if answer.error is not None:
            raise self._error(answer)
        return SendResult(self.name, f"{self.name}-{email}")

    def probe_answer(self, number: int) -> SendResult | ProviderError:
        """What synthetic probe ``number`` gets at the current time: the answer a try would
        get, drawn apart from every email's (probes count down from -1), never sent."""
        answer = self.answer(-1 - number, 0, self._clock.now)
        if answer.error is not None:
            return self._error(answer)
        return SendResult(self.name, None)

    def _error(self, answer: Answer) -> ProviderError:
        if answer.error is ErrorKind.RATE_LIMITED:
            return RateLimitedError(self.name, "too many requests", retry_after=answer.retry_after)
        if answer.error is ErrorKind.TIMEOUT:
            return NetworkError(self.name, "timed out (ReadTimeout)")
        return ServerError(self.name, "service unavailable", status_code=503)

    def build_request(self, message: Message) -> httpx.Request:  # pragma: no cover - no HTTP
        raise NotImplementedError("a simulated provider sends no HTTP request")

    def parse_success(self, response: httpx.Response) -> SendResult:  # pragma: no cover
        raise NotImplementedError("a simulated provider reads no HTTP response")


#: The email every simulated send carries (the engine tells the adapters which one it is).
MESSAGE = Message(
    email_id="simulated",
    to=(Address("user@example.com"),),
    subject="simulated",
    html="<p>simulated</p>",
    text="simulated",
    sender=Address("no-reply@example.com", "micromailer"),
)


__all__ = ["MESSAGE", "Current", "Draws", "SimClock", "SimulatedAdapter", "Sleep"]
