"""Which ``Host`` names the service answers: ``MICROMAILER_ALLOWED_HOSTS`` parsed and matched.

A ``Host`` the service does not know is a browser sent there by a rebound DNS name (a page of
``evil.example`` whose name now points at 127.0.0.1). Entries are names or addresses, without
ports (a port is ignored); ``*.example.com`` matches every subdomain of example.com, and
``.example.com`` example.com itself as well; ``*`` alone turns the check off.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

SETTING = "MICROMAILER_ALLOWED_HOSTS"

#: Answered when the setting is not given, besides the bind address.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

#: Bind addresses that name no host: every interface.
WILDCARD_BINDS = frozenset({"0.0.0.0", "::"})

#: A DNS name or an IPv4 address, as a ``Host`` carries it (IDNs arrive as punycode).
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?")


def split_host(value: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of a ``Host`` value (``name``, ``name:port``, ``[v6]:port``): the host
    lower-cased, IPv6 without brackets in its short form, no trailing dot; ``None`` when it is
    not one host."""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = _ipv6(value[1:end]), value[end + 1:]
    else:
        name, colon, port_text = value.partition(":")
        host, rest = name.lower().removesuffix("."), colon + port_text
        if not _NAME.fullmatch(host):
            return None
    if host is None:
        return None
    if not rest or rest == ":":
        return host, None
    port = rest[1:]
    if rest[0] != ":" or not (port.isascii() and port.isdigit()) or len(port) > 5:
        return None
    number = int(port)
    return (host, number) if number <= 65535 else None


def _ipv6(text: str) -> str | None:
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class HostPolicy:
    """The allowed ``Host`` names: exact ones, and domains whose subdomains are allowed."""

    names: frozenset[str]
    #: ``.example.com`` for ``*.example.com`` and ``.example.com`` (whose apex is in ``names``)
    suffixes: tuple[str, ...] = ()
    any_host: bool = False

    @classmethod
    def from_setting(cls, allowed: str | None, bind_host: str | None = None) -> HostPolicy:
        """The policy of ``MICROMAILER_ALLOWED_HOSTS``; unset, :meth:`local`."""
        if allowed is None or not allowed.strip():
            return cls.local(bind_host)
        return cls.of(parse_host_patterns(allowed))

    @classmethod
    def local(cls, bind_host: str | None = None, extra: Sequence[str] = ()) -> HostPolicy:
        """The localhost names, ``bind_host`` unless it is a wildcard address (0.0.0.0, ::),
        and the normalised entries ``extra``."""
        bound = _entry(bind_host.strip()) if bind_host is not None else None
        binds = [bound] if bound is not None and bound not in WILDCARD_BINDS else []
        return cls.of([*LOCAL_HOSTS, *binds, *extra])

    @classmethod
    def of(cls, entries: Sequence[str]) -> HostPolicy:
        """The policy of normalised entries (:func:`parse_host_patterns`)."""
        if "*" in entries:
            return cls(frozenset(), any_host=True)
        names = {entry.removeprefix(".") for entry in entries if not entry.startswith("*.")}
        suffixes = tuple(entry.removeprefix("*") for entry in entries
                         if entry.startswith(("*.", ".")))
        return cls(frozenset(names), suffixes)

    def allows(self, host: str) -> bool:
        """True when ``host`` (as :func:`split_host` gives it) may be answered."""
        return self.any_host or host in self.names or host.endswith(self.suffixes)


def parse_host_patterns(text: str, setting: str = SETTING) -> list[str]:
    """The entries of ``MICROMAILER_ALLOWED_HOSTS`` (or of ``setting``), normalised (lower
    case, no port, IPv6 short and bare); raises ``ValueError`` with a sentence for an entry
    that is no host."""
    entries = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        if raw == "*":
            entries.append("*")
            continue
        if "/" in raw or "@" in raw:
            raise ValueError(
                f"{setting} lists host names such as mail.example.com, not URLs: "
                f"write {raw!r} without its scheme, path or user."
            )
        wildcard = next((prefix for prefix in ("*.", ".") if raw.startswith(prefix)), "")
        entry = _entry(raw[len(wildcard):])
        if entry is None or (wildcard and ":" in entry):
            raise ValueError(
                f"{setting}: {raw!r} is not a host name or address; write names such as "
                "mail.example.com, *.example.com or 10.0.0.5, comma-separated."
            )
        entries.append(wildcard + entry)
    if not entries:
        raise ValueError(f"{setting} is set but lists no host; unset it for the default.")
    return entries


def _entry(text: str) -> str | None:
    """One host of the setting (a port allowed and dropped), normalised; ``None`` if none."""
    bare = _ipv6(text)
    if bare is not None:
        return bare
    parsed = split_host(text)
    return parsed[0] if parsed is not None else None


__all__ = [
    "LOCAL_HOSTS",
    "SETTING",
    "WILDCARD_BINDS",
    "HostPolicy",
    "parse_host_patterns",
    "split_host",
]
