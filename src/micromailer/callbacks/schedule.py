"""How far apart the tries of a callback delivery are (``MICROMAILER_CALLBACK_RETRY_SCHEDULE``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Most delays a schedule may list.
MAX_STEPS = 50


def parse_retry_schedule(value: str) -> tuple[float, ...]:
    """The delays of ``value``, comma-separated seconds (``"5,300,1800"``); a ``ValueError``
    with a sentence when it is not that."""
    parts = [part.strip() for part in value.split(",")]
    if parts == [""]:
        return ()
    delays: list[float] = []
    for part in parts:
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(
                f"the callback retry schedule must be seconds separated by commas, such as "
                f"5,300,1800; {part!r} is not a number"
            ) from None
        if not 0 <= delay <= 7 * 24 * 3600:  # NaN and infinity fail too
            raise ValueError(
                f"each delay of the callback retry schedule must be from 0 to 604800 seconds "
                f"(a week); {part} is not"
            )
        delays.append(delay)
    if len(delays) > MAX_STEPS:
        raise ValueError(f"the callback retry schedule lists {len(delays)} delays; at most "
                         f"{MAX_STEPS}")
    return tuple(delays)


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """A delivery is tried once, then again after each delay in turn; ``failed`` after the
    last. No jitter: the tries of one delivery are already spread by when its event came."""

    delays: Sequence[float]

    @classmethod
    def parse(cls, value: str) -> RetrySchedule:
        return cls(parse_retry_schedule(value))

    @property
    def tries(self) -> int:
        """How many tries a delivery gets in all."""
        return len(self.delays) + 1

    def retry_in(self, tries_done: int) -> float | None:
        """Seconds until the next try once ``tries_done`` tries have failed; ``None``: give up."""
        if tries_done < 1 or tries_done > len(self.delays):
            return None
        return float(self.delays[tries_done - 1])


__all__ = ["MAX_STEPS", "RetrySchedule", "parse_retry_schedule"]
