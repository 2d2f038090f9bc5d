"""The key ring: one load per freshness window, a reload before answering past the bound."""

from __future__ import annotations

import asyncio

import pytest

from micromailer.security.keyring import (
    FRESH_SECONDS,
    MAX_AGE_SECONDS,
    MISS_RELOAD_SECONDS,
    KeyRing,
    KeysUnavailable,
)
from micromailer.security.keys import key_hash, new_key
from micromailer.security.principal import Principal

ALPHA = Principal(key_name="alpha", project="alpha", admin=False)


class Keys:
    """The store's live keys, as a dict the test edits; counts loads, can be made to fail."""

    def __init__(self) -> None:
        self.live: dict[str, Principal] = {}
        self.loads = 0
        self.down = False

    def __call__(self) -> dict[str, Principal]:
        self.loads += 1
        if self.down:
            raise ConnectionError("store down")
        return dict(self.live)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _settle() -> None:
    """Let a background reload run to its end."""
    for _ in range(20):
        await asyncio.sleep(0.01)


def test_a_known_key_is_its_principal_and_any_other_token_none() -> None:
    keys, key = Keys(), new_key(test=False)
    keys.live[key_hash(key)] = ALPHA
    ring = KeyRing(keys, clock=Clock())

    async def check() -> None:
        assert await ring.authenticate(key) == ALPHA
        assert await ring.authenticate(key + "x") is None
        assert await ring.authenticate("") is None

    asyncio.run(check())


def test_authentication_is_required_once_a_key_exists_or_when_asked() -> None:
    keys, clock = Keys(), Clock()

    async def check() -> None:
        ring = KeyRing(keys, clock=clock)
        assert not await ring.required()
        assert await KeyRing(keys, require_auth=True, clock=clock).required()
        keys.live["h"] = ALPHA
        clock.now += MAX_AGE_SECONDS
        assert await ring.required()

    asyncio.run(check())


def test_requests_within_the_fresh_window_cost_no_load() -> None:
    keys, clock = Keys(), Clock()
    ring = KeyRing(keys, clock=clock)

    async def check() -> None:
        for _ in range(1000):
            await ring.authenticate("token")
        assert keys.loads == 1
        clock.now += FRESH_SECONDS  # stale: answered from the copy, reloaded behind
        await ring.authenticate("token")
        await _settle()
        assert keys.loads == 2

    asyncio.run(check())


def test_a_revoked_key_is_refused_once_the_copy_is_past_the_bound() -> None:
    keys, clock, key = Keys(), Clock(), new_key(test=False)
    keys.live[key_hash(key)] = ALPHA
    ring = KeyRing(keys, clock=clock)

    async def check() -> None:
        assert await ring.authenticate(key) == ALPHA
        del keys.live[key_hash(key)]  # revoked, with no request for a long while
        clock.now += 3600
        assert await ring.authenticate(key) is None

    asyncio.run(check())


def test_a_key_made_after_the_copy_works_at_once_and_unknown_keys_reload_seldom() -> None:
    keys, clock, key = Keys(), Clock(), new_key(test=False)
    ring = KeyRing(keys, clock=clock)

    async def check() -> None:
        assert await ring.authenticate(key) is None
        keys.live[key_hash(key)] = ALPHA  # `keys create` just now
        clock.now += MISS_RELOAD_SECONDS
        assert await ring.authenticate(key) == ALPHA
        loads = keys.loads
        for _ in range(1000):  # a flood of unknown keys within one interval: no reload
            assert await ring.authenticate(new_key(test=False)) is None
        assert keys.loads == loads

    asyncio.run(check())


def test_a_store_that_cannot_be_read_keeps_the_copy_until_the_bound_then_refuses() -> None:
    keys, clock, key = Keys(), Clock(), new_key(test=False)
    keys.live[key_hash(key)] = ALPHA
    ring = KeyRing(keys, clock=clock)

    async def check() -> None:
        assert await ring.authenticate(key) == ALPHA
        keys.down = True
        clock.now += FRESH_SECONDS
        assert await ring.authenticate(key) == ALPHA  # a failed background reload
        await _settle()
        clock.now += MAX_AGE_SECONDS
        with pytest.raises(KeysUnavailable):
            await ring.authenticate(key)
        keys.down = False
        assert await ring.authenticate(key) == ALPHA

    asyncio.run(check())


def test_keys_are_long_random_and_their_hash_is_not_the_key() -> None:
    live, test = new_key(test=False), new_key(test=True)

    assert live.startswith("mm_live_") and test.startswith("mm_test_")
    assert len(live) >= 48 and live != new_key(test=False)
    assert key_hash(live) != live and len(key_hash(live)) == 64
