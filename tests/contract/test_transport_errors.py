"""Every adapter maps a refused connection and a too-slow answer to ``NetworkError``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from micromailer.providers.errors import NetworkError
from micromailer.providers.registry import ADAPTERS
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
