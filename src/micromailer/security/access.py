"""Which paths need which key: none (the page, docs, probes), any key, or an admin key."""

from __future__ import annotations

from enum import Enum


class Access(Enum):
    PUBLIC = "public"
    KEY = "key"
    ADMIN = "admin"


#: Served to anyone: the web page and its files, the API's documentation, the probes. None of
#: them shows an email or changes anything.
_PUBLIC_PATHS = frozenset({
    "/", "/docs", "/redoc", "/redoc/redoc.standalone.js", "/openapi.json", "/healthz",
    "/readyz", "/favicon.ico",
})
#: The providers' event webhooks carry no API key: each request is checked by its provider's
#: own signature or credentials instead (``webhooks/``).
_PUBLIC_PREFIXES = ("/static/", "/webhooks/")
#: For admin keys only: every project's counts, and the sandbox's controls and captures.
_ADMIN_PATHS = frozenset({"/metrics", "/sandbox"})
_ADMIN_PREFIXES = ("/sandbox/",)


def access_for(path: str) -> Access:
    """What ``path`` asks of a caller once authentication is on; any path not named here,
    unknown ones included, needs a key."""
    if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES):
        return Access.PUBLIC
    if path in _ADMIN_PATHS or path.startswith(_ADMIN_PREFIXES):
        return Access.ADMIN
    return Access.KEY


__all__ = ["Access", "access_for"]
