"""Where requests may come from: the ``Host`` check (400), the other-site check (403), then CORS
for the allowed origins, in front of everything else (docs/security.md)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from micromailer.config import Settings
from micromailer.security.cors import AllowedOriginsCors
from micromailer.security.hosts import SETTING as HOSTS_SETTING
from micromailer.security.hosts import HostPolicy, split_host
from micromailer.security.origins import OriginPolicy, OwnSite, SiteHeaders, Verdict

_UNKNOWN_HOST = (
    "This server does not answer to the name in the request's Host header; if clients reach "
    "it by that name, add the name to {setting} (comma-separated)."
)
UNKNOWN_HOST = _UNKNOWN_HOST.format(setting=HOSTS_SETTING)
ONE_HOST = "The request must carry exactly one Host header, naming this server."
OTHER_SITE = (
    "Requests from another site's web page are refused: only this server's own pages and the "
    "origins listed in MICROMAILER_ALLOWED_ORIGINS may call it from a browser."
)

#: Answered whatever the ``Host``: Kubernetes' probes name the pod's address.
PROBES = frozenset({"/healthz", "/readyz"})

#: The parsed ``Host`` values kept, and the longest kept.
_SEEN_VALUES = 256
_SEEN_LENGTH = 255


def guard_sites(app: ASGIApp, settings: Settings) -> ASGIApp:
    """``app`` behind the ``Host`` check, the cross-site check and CORS for allowed origins."""
    hosts = HostPolicy.from_setting(settings.allowed_hosts, settings.bind_host)
    origins = OriginPolicy.from_setting(settings.allowed_origins)
    cors = AllowedOriginsCors(app, origins.allowed) if origins.allowed else None
    return SiteGuard(app, hosts, origins, cors=cors)


class SiteGuard:
    """Refuse a ``Host`` not in ``hosts`` (400) and another site's page (403); send a request
    of an allowed origin through ``cors``, any other to ``app``. ``exempt`` paths answer any
    ``Host``; ``hosts_setting`` is what the 400's sentence tells to change."""

    def __init__(
        self, app: ASGIApp, hosts: HostPolicy, origins: OriginPolicy | None = None, *,
        cors: ASGIApp | None = None, exempt: Iterable[str] = PROBES,
        hosts_setting: str = HOSTS_SETTING,
    ) -> None:
        self.app = app
        self.unknown_host = _UNKNOWN_HOST.format(setting=hosts_setting)
        self.hosts = hosts
        self.origins = origins or OriginPolicy()
        self.cors = cors or app
        self.exempt = frozenset(exempt)
        #: ``Host`` value → this server as it names it, and whether it is allowed: clients
        #: send a handful of values, parsed once each (bounded, for those who send many).
        self._seen: dict[str, tuple[OwnSite | None, bool]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hosts, site = read_headers(scope)
        try:
            own = self._own_site(scope["path"], hosts)
        except _Refused as refused:
            await _refuse(send, refused.status, refused.sentence)
            return
        verdict = self.origins.judge(site, own)
        if verdict is Verdict.OTHER:
            await _refuse(send, 403, OTHER_SITE)
            return
        target = self.cors if verdict is Verdict.ALLOWED else self.app
        await target(scope, receive, send)

    def _own_site(self, path: str, hosts: list[str]) -> OwnSite | None:
        """This server as the ``Host`` names it; raises a 400 for a ``Host`` not allowed."""
        own, allowed = self._read_host(hosts[0]) if len(hosts) == 1 else (None, False)
        if not (allowed or self.hosts.any_host or path in self.exempt):
            if len(hosts) != 1 or not hosts[0]:
                raise _Refused(400, ONE_HOST)
            raise _Refused(400, self.unknown_host)
        return own

    def _read_host(self, value: str) -> tuple[OwnSite | None, bool]:
        known = self._seen.get(value)
        if known is None:
            parsed = split_host(value)
            own = OwnSite(*parsed) if parsed is not None else None
            known = own, own is not None and self.hosts.allows(own.host)
            if len(value) <= _SEEN_LENGTH:
                if len(self._seen) >= _SEEN_VALUES:
                    self._seen.clear()
                self._seen[value] = known
        return known


class _Refused(Exception):
    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence


async def _refuse(send: Send, status: int, sentence: str) -> None:
    """The refusal in the API's shape, written as the intake writes its own."""
    # Imported here: the API's package imports this module to build its app.
    from micromailer.api.intake.answer import IntakeRefused, send_refusal

    await send_refusal(send, IntakeRefused(status, sentence))


def read_headers(scope: Scope) -> tuple[list[str], SiteHeaders]:
    """The ``Host`` values and what the request says of its page, in one pass."""
    hosts: list[str] = []
    origins: list[str] = []
    fetch: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name == b"host":
            hosts.append(value.decode("latin-1"))
        elif name == b"origin":
            origins.append(value.decode("latin-1"))
        elif name.startswith(b"sec-fetch-"):
            fetch[name] = value.decode("latin-1").strip().lower()
    return hosts, SiteHeaders(
        method=scope["method"],
        origins=origins,
        fetch_site=fetch.get(b"sec-fetch-site"),
        fetch_mode=fetch.get(b"sec-fetch-mode"),
        fetch_dest=fetch.get(b"sec-fetch-dest"),
    )


__all__ = ["ONE_HOST", "OTHER_SITE", "PROBES", "UNKNOWN_HOST", "SiteGuard", "guard_sites"]
