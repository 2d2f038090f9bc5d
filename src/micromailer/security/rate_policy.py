"""Rate limits as written in ``MICROMAILER_RATE_LIMIT`` and ``keys create --rate``, parsed once.

The syntax is the ``limits`` library's (``100/second``, ``1000 per hour``, ``5 per 2 minutes``;
several joined by ``;``). A :class:`RatePolicy` holds the parsed limits, each named after its
window (``per-second``, ``per-2-minutes``), and its ``RateLimit-Policy`` header, built once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse_many

from micromailer.security.rate_headers import policy_field, sf_string

#: How to write one, for the sentences that refuse a wrong one.
EXAMPLES = "such as `100/second`, `1000 per hour` or `10/second;500/hour`"


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit: ``item.amount`` requests per ``window`` seconds, named for the headers."""

    item: RateLimitItem
    name: str
    window: int
    #: The name as the headers write it (a quoted string), made once.
    label: str


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """Every limit a caller's requests count against, and its ``RateLimit-Policy`` value."""

    text: str
    quotas: tuple[Quota, ...]
    policy_header: str


def parse_rate_limit(text: str) -> RatePolicy:
    """``text`` parsed; ``ValueError`` with a sentence saying what to write instead."""
    try:
        items = parse_many(text)
    except ValueError:
        raise ValueError(
            f"`{text}` is not a rate limit: write a number of requests per period, {EXAMPLES}."
        ) from None
    quotas: list[Quota] = []
    for item in items:
        if item.amount < 1:
            raise ValueError(
                f"`{text}` allows no request at all: a rate limit needs at least 1 request per "
                "period."
            )
        if any(quota.window == item.get_expiry() for quota in quotas):
            raise ValueError(
                f"`{text}` has two limits per {_period(item)}: keep one per period."
            )
        name = _policy_name(item)
        quotas.append(Quota(item, name, item.get_expiry(), sf_string(name)))
    header = policy_field((quota.label, quota.item.amount, quota.window) for quota in quotas)
    return RatePolicy(text, tuple(quotas), header)


@lru_cache(maxsize=1024)
def cached_rate_limit(text: str) -> RatePolicy:
    """:func:`parse_rate_limit`, once per distinct text (the setting and each key's own)."""
    return parse_rate_limit(text)


def _policy_name(item: RateLimitItem) -> str:
    return "per-" + _period(item).replace(" ", "-")


def _period(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


__all__ = ["EXAMPLES", "Quota", "RatePolicy", "cached_rate_limit", "parse_rate_limit"]
