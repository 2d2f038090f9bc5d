"""Which URLs a callback may call: http(s) to public addresses only, unless allowed.

A URL whose host is, or resolves to, a loopback, private, link-local, multicast, reserved or
unspecified address (IPv4 or IPv6, IPv4 inside IPv6 included) would let a client make the
service call inside its own network (server-side request forgery). Such URLs are refused at
registration, and checked again before every try, since DNS answers change; the try then goes
to the very address checked (``sender.py``), so no second lookup can be swapped in between.
``MICROMAILER_CALLBACK_ALLOW_PRIVATE=true`` allows them (a receiver on the same machine).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

#: Longest URL accepted (the ``callbacks.url`` column).
MAX_URL_LENGTH = 2048
SCHEMES = ("https", "http")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port)`` → the addresses the host resolves to; raises ``OSError`` when it cannot.
Resolver = Callable[[str, int], Sequence[str]]

ALLOW_PRIVATE_HINT = "MICROMAILER_CALLBACK_ALLOW_PRIVATE=true"


class RefusedUrlError(ValueError):
    """A URL a callback may not call; the message is a sentence for the client, ``kind``
    says why in one word: ``form``, ``unresolved`` or ``not_public``."""

    def __init__(self, message: str, kind: str = "form") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class CallbackUrl:
    """A well-formed callback URL: its scheme, its host as looked up (ASCII, no brackets)
    and its port."""

    url: httpx.URL
    host: str
    port: int

    @property
    def https(self) -> bool:
        return self.url.scheme == "https"


def parse_callback_url(text: str) -> CallbackUrl:
    """``text`` as a callback URL, or :class:`RefusedUrlError` saying what to fix. Only its
    form is checked here; :func:`check_addresses` judges where it leads."""
    if len(text) > MAX_URL_LENGTH:
        raise RefusedUrlError(f"`url` is longer than {MAX_URL_LENGTH} characters.")
    try:
        url = httpx.URL(text.strip())
    except httpx.InvalidURL as exc:
        raise RefusedUrlError(f"`url` is not a valid URL ({exc}).") from None
    if url.scheme not in SCHEMES:
        raise RefusedUrlError(
            "`url` must be an absolute https:// (or http://) URL, such as "
            "https://app.example.com/hooks/email."
        )
    host = url.raw_host.decode("ascii").strip("[]")
    if not host:
        raise RefusedUrlError("`url` names no host; give one, as in https://app.example.com/hook.")
    if url.userinfo:
        raise RefusedUrlError(
            "`url` must not carry a user name or password; the receiver checks the "
            "`webhook-signature` header instead (docs/callbacks.md)."
        )
    port = url.port or (443 if url.scheme == "https" else 80)
    return CallbackUrl(url, host, port)


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address. An IPv4-mapped IPv6 address is judged
    as its IPv4 address; one that tunnels an IPv4 address (6to4, Teredo) must be public itself
    and carry a public one. NAT64's ``64:ff9b::/96`` lies in the reserved ``::/8``: refused."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        inner = _tunnelled_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified or site_local
    )


def _tunnelled_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def check_addresses(
    target: CallbackUrl, addresses: Sequence[str], *, allow_private: bool
) -> list[IPAddress]:
    """The addresses ``target``'s host resolved to, every one of them allowed; else
    :class:`RefusedUrlError`. A host with one public and one private address is refused: the
    service cannot tell which one a later lookup would give."""
    parsed = [ipaddress.ip_address(address) for address in dict.fromkeys(addresses)]
    if not parsed:
        raise RefusedUrlError(f"`url`'s host {target.host} could not be resolved; check it.",
                              "unresolved")
    if not allow_private and not all(is_public(address) for address in parsed):
        raise RefusedUrlError(
            "`url` must lead to a public address: its host is, or resolves to, a loopback, "
            "private, link-local or otherwise reserved address, which callbacks may not call "
            f"(the service's operator can allow it with {ALLOW_PRIVATE_HINT}).", "not_public"
        )
    return parsed


def resolve(target: CallbackUrl, resolver: Resolver) -> list[str]:
    """``target``'s host's addresses; an IP literal is its own. :class:`RefusedUrlError` when
    the name does not resolve."""
    try:
        return [str(ipaddress.ip_address(target.host))]
    except ValueError:
        pass
    try:
        return list(resolver(target.host, target.port))
    except (OSError, UnicodeError):
        raise RefusedUrlError(
            f"`url`'s host {target.host} could not be resolved; check it.", "unresolved"
        ) from None


def system_resolver(host: str, port: int) -> list[str]:
    """The system's lookup (``getaddrinfo``): the host's addresses, each once, in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


__all__ = [
    "ALLOW_PRIVATE_HINT",
    "MAX_URL_LENGTH",
    "CallbackUrl",
    "IPAddress",
    "RefusedUrlError",
    "Resolver",
    "check_addresses",
    "is_public",
    "parse_callback_url",
    "resolve",
    "system_resolver",
]
