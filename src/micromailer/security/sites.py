"""Where requests may come from: allowed ``Host`` names and other sites (not yet enforced)."""

from __future__ import annotations

from starlette.types import ASGIApp

from micromailer.config import Settings


def guard_sites(app: ASGIApp, settings: Settings) -> ASGIApp:
    """``app`` behind the ``Host`` check, the cross-site check and CORS for allowed origins."""
    return app


__all__ = ["guard_sites"]
