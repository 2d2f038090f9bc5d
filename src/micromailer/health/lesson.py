"""What one provider try teaches a health board."""

from __future__ import annotations

from typing import NamedTuple


class Lesson(NamedTuple):
    """The provider, whether the try succeeded, and for a failure that said when to come back
    (a 429 with ``Retry-After``) how many seconds it asked for."""

    provider: str
    succeeded: bool
    retry_after: float | None = None


__all__ = ["Lesson"]
