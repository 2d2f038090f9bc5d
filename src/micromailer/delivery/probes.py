"""Synthetic probes: test-mode requests that send nothing, made at an interval, teaching the
health board.

A provider that failed is parked (its score low) and gets little traffic, so the board learns
of its recovery late, from the few emails that still try it. A probe asks each configured
provider with a test mode (SendGrid's sandbox mode, Postmark's test token, Mailgun's
``o:testmode``) for an answer every ``MICROMAILER_PROBE_INTERVAL`` seconds, without risking a
real email: a success is recorded as one, a failure the adapter blames on the provider as one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from micromailer.domain.message import Address, Message
from micromailer.health.board import HealthBoard
from micromailer.health.lesson import Lesson
from micromailer.providers.base import ProviderAdapter, SendResult
from micromailer.providers.errors import ProviderError, RateLimitedError

from .loop_board import OnLearn

log = logging.getLogger(__name__)

#: The probe's subject and text; nobody receives it.
PROBE_SUBJECT = "micromailer probe"
PROBE_TEXT = "A synthetic probe in the provider's test mode: nothing is sent."


#: Asks whether this worker makes this round's probe of the named provider (workers sharing a
#: board make one between them, ``queue/probes.py``).
Claim = Callable[[str], bool]


def probe_message(sender: str) -> Message:
    """The message a probe sends in test mode: from ``sender`` to itself (a verified address,
    so the provider checks the request as it would a real send)."""
    address = Address(sender)
    return Message(
        email_id="probe", to=(address,), subject=PROBE_SUBJECT, html="", text=PROBE_TEXT,
        sender=address,
    )


def lesson_of(name: str, answer: SendResult | Exception) -> Lesson | None:
    """What one probe's answer teaches the board: a success, a failure the adapter blames on
    the provider (with a 429's wait), or nothing (the probe itself was refused)."""
    if isinstance(answer, SendResult):
        return Lesson(name, True)
    if isinstance(answer, ProviderError) and answer.counts_against_health:
        retry_after = answer.retry_after if isinstance(answer, RateLimitedError) else None
        return Lesson(name, False, retry_after)
    return None


class Prober:
    """Probes each of ``adapters`` once per :meth:`probe_all`, and records the lessons; with
    ``claim``, only the providers whose probe this worker claims for the round."""

    def __init__(
        self, adapters: Sequence[ProviderAdapter], board: HealthBoard, sender: str,
        on_learn: OnLearn | None = None, claim: Claim | None = None,
    ) -> None:
        untestable = [adapter.name for adapter in adapters if not adapter.has_test_mode]
        if untestable:
            raise ValueError(f"no test mode to probe {', '.join(untestable)} with")
        self._adapters = list(adapters)
        self._board = board
        self._message = probe_message(sender)
        self._on_learn = on_learn
        self._claim = claim
        #: Probes sent so far.
        self.sent = 0
        #: Whether each provider's last probe succeeded.
        self._last: dict[str, bool] = {}

    def probe_all(self) -> list[Lesson]:
        """One probe per provider, in turn; the lessons recorded on the board, returned."""
        lessons = []
        for adapter in self._adapters:
            if self._claim is not None and not self._claim(adapter.name):
                continue  # another worker probes it this round
            lesson = self.probe_one(adapter)
            if lesson is not None:
                lessons.append(lesson)
        if lessons:
            self._board.record_many(lessons)
            if self._on_learn is not None:
                self._on_learn()
        return lessons

    def probe_one(self, adapter: ProviderAdapter) -> Lesson | None:
        """One test-mode request to ``adapter``'s provider and what it teaches."""
        self.sent += 1
        try:
            answer: SendResult | Exception = adapter.probe(self._message)
        except Exception as exc:
            answer = exc
        lesson = lesson_of(adapter.name, answer)
        if isinstance(answer, ProviderError) and lesson is None:
            log.warning("probe of %s refused, nothing learnt: %s", adapter.name,
                        answer.describe())
        elif isinstance(answer, Exception) and not isinstance(answer, ProviderError):
            log.error("probe of %s raised an unexpected error", adapter.name, exc_info=answer)
        elif lesson is not None:
            self._log_change(adapter.name, lesson.succeeded, answer)
        return lesson

    def _log_change(self, name: str, succeeded: bool, answer: object) -> None:
        """Say when a provider's probes start failing or succeed again; repeats at debug level,
        so an outage does not fill the log."""
        changed = self._last.get(name, True) != succeeded
        self._last[name] = succeeded
        level = logging.INFO if changed else logging.DEBUG
        if succeeded:
            log.log(level, "probe of %s succeeded", name)
        else:
            log.log(level, "probe of %s failed: %s", name, answer)


class ProbeRunner(threading.Thread):
    """Every ``interval`` seconds, one round of probes; :meth:`stop` ends it between rounds."""

    def __init__(self, prober: Prober, interval: float) -> None:
        super().__init__(name="micromailer-probes", daemon=True)
        if interval <= 0:
            raise ValueError("the probe interval must be positive")
        self._prober = prober
        self._interval = interval
        self._stopped = threading.Event()
        #: Rounds run so far.
        self.rounds = 0

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._prober.probe_all()
            except Exception as exc:  # a shared board may be down for a while; keep probing
                log.warning("probe round failed: %s", exc)
            self.rounds += 1

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the round under way, waiting up to ``timeout`` seconds for it."""
        self._stopped.set()
        if self.is_alive():
            self.join(timeout)


__all__ = [
    "PROBE_SUBJECT",
    "PROBE_TEXT",
    "Claim",
    "ProbeRunner",
    "Prober",
    "lesson_of",
    "probe_message",
]
