"""Whose ``X-Forwarded-For`` names the client: ``MICROMAILER_TRUSTED_PROXIES``, for uvicorn.

uvicorn rewrites ``scope["client"]`` (and ``scope["scheme"]`` from ``X-Forwarded-Proto``) for
requests whose peer is a trusted proxy, and leaves every other request as it came; by default
no peer is trusted, so a client cannot name another address by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from typing import Any

SETTING = "MICROMAILER_TRUSTED_PROXIES"


def parse_trusted_proxies(text: str | None) -> list[str]:
    """The entries of ``MICROMAILER_TRUSTED_PROXIES``: addresses, networks (``10.0.0.0/8``) or
    ``*`` (every peer: only when nothing but the proxy can reach the port); raises
    ``ValueError`` with a sentence for an entry that is none of these."""
    entries = []
    for raw in (part.strip() for part in (text or "").split(",")):
        if not raw:
            continue
        if raw == "*":
            return ["*"]
        try:
            if "/" in raw:
                entries.append(str(ipaddress.ip_network(raw, strict=False)))
            else:
                entries.append(str(ipaddress.ip_address(raw.removeprefix("[").removesuffix("]"))))
        except ValueError:
            raise ValueError(
                f"{SETTING}: {raw!r} is not an IP address or network; list the proxies' "
                "addresses (10.0.0.5, 10.0.0.0/8, ::1), comma-separated, or * for every peer."
            ) from None
    return entries


def uvicorn_proxy_options(text: str | None) -> dict[str, Any]:
    """uvicorn's options for ``MICROMAILER_TRUSTED_PROXIES``: forwarded headers honoured from
    those proxies only, and from nobody (whatever ``FORWARDED_ALLOW_IPS`` says) without it."""
    proxies = parse_trusted_proxies(text)
    return {
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": "*" if proxies == ["*"] else proxies,
    }


__all__ = ["SETTING", "parse_trusted_proxies", "uvicorn_proxy_options"]
