"""Embedded mode's helpers: the URL by which ``micromailer run``'s children reach its API
(the fakes send their events there)."""

from __future__ import annotations

import pytest

from micromailer.embedded import reachable_url


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),
        ("", "http://127.0.0.1:8000"),
        ("::", "http://[::1]:8000"),
        ("::1", "http://[::1]:8000"),
        ("[::1]", "http://[::1]:8000"),
        ("localhost", "http://localhost:8000"),
        ("192.0.2.10", "http://192.0.2.10:8000"),
    ],
)
def test_a_wildcard_bind_is_reached_on_loopback_and_ipv6_in_brackets(host: str, url: str) -> None:
    assert reachable_url(host, 8000) == url
