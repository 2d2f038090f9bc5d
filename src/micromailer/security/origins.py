"""Whether a request comes from another site's page: ``Origin`` and ``Sec-Fetch-*`` judged.

A browser names the page that makes a request in ``Origin`` (on every POST, and on every
cross-origin ``fetch``) and, in current browsers, tells in ``Sec-Fetch-Site`` how that page
relates to the target (``same-origin``, ``same-site``, ``cross-site``, ``none``). Scripts cannot
forge either. Clients that are not browsers (curl, servers) send neither and are not judged
here: the key gate is for them.

An origin is a scheme, a host and a port. Only this server's own origin and those listed in
``MICROMAILER_ALLOWED_ORIGINS`` may call; a sibling subdomain (``same-site``) is another origin
and is refused unless listed. A top-level navigation (following a link, GET or HEAD) is let
through whatever page it comes from, so that a link to the web page still opens it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from micromailer.security.hosts import split_host

SETTING = "MICROMAILER_ALLOWED_ORIGINS"

DEFAULT_PORTS = {"http": 80, "https": 443}

#: ``(scheme, host, port)``, the host as :func:`~micromailer.security.hosts.split_host` gives
#: it, the port always written out.
Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    """The origin an ``Origin`` header (or a setting's entry) names: ``scheme://host[:port]``
    with an http or https scheme and nothing after; ``None`` for anything else (``null``)."""
    scheme, separator, authority = value.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in DEFAULT_PORTS:
        return None
    parsed = split_host(authority)
    if parsed is None:
        return None
    host, port = parsed
    return scheme, host, DEFAULT_PORTS[scheme] if port is None else port


def serialize_origin(origin: Origin) -> str:
    """``origin`` as browsers write it in ``Origin``: no default port, IPv6 in brackets."""
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if port == DEFAULT_PORTS[scheme] else f"{scheme}://{shown}:{port}"


def parse_origins(text: str | None) -> list[str]:
    """The entries of ``MICROMAILER_ALLOWED_ORIGINS``, as browsers write them; raises
    ``ValueError`` with a sentence for an entry that is not ``scheme://host[:port]``."""
    origins = []
    for raw in (part.strip() for part in (text or "").split(",")):
        if not raw:
            continue
        origin = parse_origin(raw)
        if origin is None:
            raise ValueError(
                f"{SETTING}: {raw!r} is not an origin; write each as scheme://host[:port] "
                "(https://app.example.com, http://localhost:3000), without a path or a "
                "trailing slash, comma-separated."
            )
        origins.append(serialize_origin(origin))
    return origins


class Verdict(Enum):
    """What a request's site is to this server."""

    #: This server's own pages, a navigation, or no browser at all: no CORS needed.
    OWN = "own"
    #: A page of an origin in ``MICROMAILER_ALLOWED_ORIGINS``: answered with CORS headers.
    ALLOWED = "allowed"
    #: Another site's page: refused.
    OTHER = "other"


class SiteHeaders(NamedTuple):
    """What a request says of the page that made it (each header's values, in order)."""

    method: str
    origins: Sequence[str] = ()
    fetch_site: str | None = None
    fetch_mode: str | None = None
    fetch_dest: str | None = None


class OwnSite(NamedTuple):
    """Where the request arrived, as its ``Host`` says."""

    host: str
    #: The ``Host``'s port; ``None`` when it has none (a default port, or a proxy's
    #: ``Host $host``).
    port: int | None

    def is_origin_of(self, origin: Origin) -> bool:
        """True when ``origin`` is this server's: the same host and port, whatever the scheme
        (a proxy ending TLS in front changes the scheme, not the site). Without a port in the
        ``Host``, the origin's must be its scheme's default."""
        scheme, host, port = origin
        if host != self.host:
            return False
        return port == (DEFAULT_PORTS[scheme] if self.port is None else self.port)


@dataclass(frozen=True)
class OriginPolicy:
    """The origins allowed besides the server's own."""

    allowed: frozenset[str] = frozenset()

    @classmethod
    def from_setting(cls, text: str | None) -> OriginPolicy:
        return cls(frozenset(parse_origins(text)))

    def judge(self, request: SiteHeaders, own: OwnSite | None) -> Verdict:
        """Whose page made ``request``; ``own`` is ``None`` when the ``Host`` names no one
        host (any other origin is then another site)."""
        if not request.origins and request.fetch_site in (None, "same-origin", "none"):
            return Verdict.OWN  # not a browser, or the server's own page: the common case
        origin = request.origins[0] if len(request.origins) == 1 else None
        if origin in self.allowed:  # as browsers write it; so does CORS compare
            return Verdict.ALLOWED
        if _navigation(request):
            return Verdict.OWN
        if len(request.origins) > 1 or request.fetch_site in ("cross-site", "same-site"):
            return Verdict.OTHER
        if origin is None:
            return Verdict.OWN
        named = parse_origin(origin)
        if named is not None and own is not None and own.is_origin_of(named):
            return Verdict.OWN
        # A page whose Referrer-Policy is no-referrer (ours is) may send "null" on a POST, as
        # the Fetch standard says; Sec-Fetch-Site, which no script can set, tells it is ours.
        if origin == "null" and request.fetch_site == "same-origin":
            return Verdict.OWN
        return Verdict.OTHER


def _navigation(request: SiteHeaders) -> bool:
    """A top-level navigation: a link followed, a URL typed; never a form's POST or a frame."""
    return (
        request.method in ("GET", "HEAD")
        and request.fetch_mode == "navigate"
        and request.fetch_dest in (None, "document")
    )


__all__ = [
    "SETTING",
    "Origin",
    "OriginPolicy",
    "OwnSite",
    "SiteHeaders",
    "Verdict",
    "parse_origin",
    "parse_origins",
    "serialize_origin",
]
