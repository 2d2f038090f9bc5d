"""The rate-limit answer headers, as draft-ietf-httpapi-ratelimit-headers-10 writes them.

Both fields are Structured Field lists (RFC 9651) of one item per limit, named by a string:

    RateLimit-Policy: "per-second";q=100;w=1, "per-hour";q=5000;w=3600
    RateLimit: "per-second";r=99;t=1, "per-hour";r=4321;t=1800

``q`` is the quota (requests), ``w`` its window, ``r`` the requests left in the current window
and ``t`` the seconds until it ends; a 429 adds ``Retry-After`` in whole seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

RATELIMIT = "RateLimit"
RATELIMIT_POLICY = "RateLimit-Policy"
RETRY_AFTER = "Retry-After"


def policy_field(quotas: Iterable[tuple[str, int, int]]) -> str:
    """``RateLimit-Policy`` for ``(label, quota, window seconds)`` triples; each label an
    :func:`sf_string`."""
    return ", ".join(f"{label};q={quota};w={window}" for label, quota, window in quotas)


def limit_field(limits: Iterable[tuple[str, int, int]]) -> str:
    """``RateLimit`` for ``(label, remaining, seconds to reset)`` triples; each label an
    :func:`sf_string`, made once per policy rather than on every request."""
    return ", ".join(f"{label};r={left};t={reset}" for label, left, reset in limits)


def sf_string(text: str) -> str:
    """An sf-string: printable ASCII in double quotes, ``\\`` and ``"`` escaped."""
    if not text.isascii() or not text.isprintable():
        raise ValueError(f"a policy name must be printable ASCII: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = [
    "RATELIMIT", "RATELIMIT_POLICY", "RETRY_AFTER", "limit_field", "policy_field", "sf_string",
]
