"""The providers' health as it lives in Redis: keys, the update script, and one-trip reads.

One hash per provider, ``<prefix><name>``, with ``health``, ``last_error`` and ``retry_at``
(seconds on Redis's clock); no hash means healthy. An update is one ``EVALSHA`` of
:data:`APPLY_STEP`, which applies the Python strategy's
:class:`~micromailer.health.base.HealthStep` atomically on Redis's clock; a read is one
``MULTI``/``EXEC`` of ``TIME`` and the hashes. Numbers are written as the shortest text that
reads back as the same double. Methods may raise :class:`redis.RedisError`;
:class:`~micromailer.health.redis_board.RedisBoard` adds the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from micromailer.health.base import HealthStep, ProviderHealth

#: Where the health hashes live: ``micromailer:health:<provider>``.
KEY_PREFIX = "micromailer:health:"

#: Connect and read timeout of one Redis call, in seconds.
DEFAULT_TIMEOUT = 0.25

#: KEYS[1]: the provider's hash. ARGV: factor, gain, marks_error ("1" or "0"), hold (seconds
#: to add to ``TIME`` for ``retry_at``, or "" not to touch it).
#: Returns {health, last_error or false, retry_at or false} as text that reads back as the
#: exact doubles.
APPLY_STEP = """
local function exact(x)  -- the shortest text that reads back as exactly x
  for digits = 15, 17 do
    local text = string.format('%.' .. digits .. 'g', x)
    if tonumber(text) == x then return text end
  end
end
local current = redis.call('HMGET', KEYS[1], 'health', 'last_error', 'retry_at')
local health = tonumber(current[1] or '1')
local updated = health * tonumber(ARGV[1]) + tonumber(ARGV[2])
local last_error, retry_at = current[2], current[3]
local fields = {}
if updated ~= health then
  table.insert(fields, 'health'); table.insert(fields, exact(updated))
end
if ARGV[3] == '1' or ARGV[4] ~= '' then
  local time = redis.call('TIME')
  local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
  if ARGV[3] == '1' then
    last_error = exact(now)
    table.insert(fields, 'last_error'); table.insert(fields, last_error)
  end
  if ARGV[4] ~= '' then
    retry_at = exact(now + tonumber(ARGV[4]))
    table.insert(fields, 'retry_at'); table.insert(fields, retry_at)
  end
end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
return {exact(updated), last_error or false, retry_at or false}
"""


def redis_client(url: str, timeout: float = DEFAULT_TIMEOUT) -> redis.Redis:
    """A client that fails fast: short timeouts and no retries (the board has its own plan)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


class RedisStates:
    """The health hashes of the named providers, without any fallback."""

    def __init__(
        self, client: redis.Redis, names: Sequence[str], *, prefix: str = KEY_PREFIX
    ) -> None:
        self.client = client
        self.names = list(names)
        self.prefix = prefix
        self._apply_step = client.register_script(APPLY_STEP)

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def apply(
        self, name: str, step: HealthStep, hold: float | None = None
    ) -> tuple[float, float | None, float | None]:
        """Apply ``step`` (with the failure's ``Retry-After``, ``hold``) to the provider's hash;
        return its new health, last error and retry time."""
        return self.apply_many([(name, step, hold)])[0]

    def apply_many(
        self, steps: Sequence[tuple[str, HealthStep, float | None]]
    ) -> list[tuple[float, float | None, float | None]]:
        """:meth:`apply` for each, in order, in one round trip (a pipeline of script calls)."""
        pipe = self.client.pipeline(transaction=False)
        for name, step, hold in steps:
            held = repr(float(hold)) if step.holds and hold is not None else ""
            args = (repr(step.factor), repr(step.gain), "1" if step.marks_error else "0", held)
            self._apply_step(keys=[self.key(name)], args=args, client=pipe)
        replies: list[Any] = pipe.execute()
        return [
            (float(reply[0]), _seconds(reply[1]), _seconds(reply[2])) for reply in replies
        ]

    def read(self) -> tuple[list[ProviderHealth], float]:
        """Every provider's state (``base_score`` 0: the caller's configuration owns it), and
        Redis's time, read together."""
        pipe = self.client.pipeline(transaction=True)
        pipe.time()
        for name in self.names:
            pipe.hmget(self.key(name), ["health", "last_error", "retry_at"])
        replies: list[Any] = pipe.execute()
        seconds, micros = replies[0]
        now = int(seconds) + int(micros) / 1_000_000
        states = [
            ProviderHealth(
                name, 0.0, 1.0 if health is None else float(health), _seconds(last_error),
                _seconds(retry_at),
            )
            for name, (health, last_error, retry_at) in zip(
                self.names, replies[1:], strict=True
            )
        ]
        return states, now


def _seconds(value: str | None) -> float | None:
    """A stored time, or ``None`` (Lua's ``false`` arrives as ``None`` too)."""
    return None if value is None else float(value)


__all__ = ["APPLY_STEP", "DEFAULT_TIMEOUT", "KEY_PREFIX", "RedisStates", "redis_client"]
