"""``GET /``: the web page, and ``/static/``: its files, shipped in the package (no CDN).

The page is plain HTML, CSS and JavaScript modules with no build step; see ``docs/web.md``.
It is served with a Content-Security-Policy that allows only this origin's scripts, styles
and connections, no inline script or style, no plugin and no framing by other sites.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

#: Sent with the page and every static file.
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["web"])


@router.get("/", response_class=HTMLResponse, summary="The web page")
async def read_page() -> FileResponse:
    """The page: send an email, watch it, see the providers' scores and the sandbox."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html",
                        headers=SECURITY_HEADERS)


class _StaticFiles(StaticFiles):
    """Starlette's static files, with the page's security headers."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(SECURITY_HEADERS)
        return response


def mount_static(app: FastAPI) -> None:
    """Serve the page's files under ``/static``."""
    app.mount("/static", _StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "STATIC_DIR", "mount_static", "router"]
