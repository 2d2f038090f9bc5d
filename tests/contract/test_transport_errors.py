"""Every adapter maps a refused connection and a too-slow answer to ``NetworkError``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from micromailer.config import Settings
from micromailer.providers.errors import NetworkError
from micromailer.providers.registry import ADAPTERS, make_async_http_client
from micromailer.sandbox import SandboxThread
from tests.contract.helpers import SANDBOX_KEYS, closed_port_url, make_message

FaultSetter = Callable[..., dict[str, Any]]

pytestmark = pytest.mark.parametrize("kind", sorted(ADAPTERS))


def test_refused_connection_is_network_error(http_client: httpx.Client, kind: str) -> None:
    adapter = ADAPTERS[kind](api_key="k", base_url=closed_port_url(), client=http_client)

    with pytest.raises(NetworkError) as caught:
        adapter.send(make_message())

    assert caught.value.provider == kind


def test_answer_slower_than_the_client_timeout_is_network_error(
    sandbox: SandboxThread, set_faults: FaultSetter, kind: str
) -> None:
    set_faults(kind, latencyMs=500)
    with httpx.Client(timeout=httpx.Timeout(0.1, connect=1.0), trust_env=False) as client:
        adapter = ADAPTERS[kind](api_key=SANDBOX_KEYS[kind], base_url=sandbox.url, client=client)
        with pytest.raises(NetworkError) as caught:
            adapter.send(make_message())

    assert "timed out" in caught.value.reason


# -- the worker's client: httpx's API over aiohttp's pool ----------------------------------


def worker_client(timeout: float) -> httpx.AsyncClient:
    settings = Settings(provider_timeout=timeout, provider_connect_timeout=1.0)
    return make_async_http_client(settings)


def test_refused_connection_is_network_error_on_the_workers_client(kind: str) -> None:
    async def send() -> None:
        async with worker_client(5.0) as client:
            adapter = ADAPTERS[kind](api_key="k", base_url=closed_port_url(), client=client)
            await adapter.send_async(make_message())

    with pytest.raises(NetworkError) as caught:
        asyncio.run(send())

    assert caught.value.provider == kind
    assert "network error" in caught.value.reason


def test_slow_answer_is_network_error_on_the_workers_client(
    sandbox: SandboxThread, set_faults: FaultSetter, kind: str
) -> None:
    set_faults(kind, latencyMs=500)

    async def send() -> None:
        async with worker_client(0.1) as client:
            adapter = ADAPTERS[kind](
                api_key=SANDBOX_KEYS[kind], base_url=sandbox.url, client=client
            )
            await adapter.send_async(make_message())

    with pytest.raises(NetworkError) as caught:
        asyncio.run(send())

    assert "timed out" in caught.value.reason


def test_the_workers_client_sends_and_reads_an_answer(
    sandbox: SandboxThread, kind: str
) -> None:
    async def send() -> str | None:
        async with worker_client(5.0) as client:
            adapter = ADAPTERS[kind](
                api_key=SANDBOX_KEYS[kind], base_url=sandbox.url, client=client
            )
            return (await adapter.send_async(make_message())).provider

    assert asyncio.run(send()) == kind
