"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc): the API reference, served from the package.

Both load their code from ``static/vendor/`` (``SOURCE.txt`` names the npm packages, versions,
licences and checksums), never from a CDN, so they work offline, and both are served under the
web page's Content-Security-Policy. Swagger UI runs under it unchanged: its initialiser is a
static file (``static/docs/swagger-ui-init.js``), not an inline script. ReDoc needs two
relaxations, on ``/redoc`` only: it injects its styles at run time as ``<style>`` elements
(styled-components), so ``style-src`` allows ``'unsafe-inline'``; and it builds its search
index in a Web Worker started from a ``blob:`` URL, so ``worker-src`` allows ``blob:``. Neither
lets a script in: ``script-src`` stays ``'self'``. ReDoc's menu also shows Redocly's logo,
loaded from Redocly's CDN with no option to turn it off: ``/redoc/redoc.standalone.js`` serves
the vendored file with that one address replaced by an empty image (the file on disk stays as
published, so its checksum can be checked).
"""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from micromailer.api.routes.web import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, STATIC_DIR

OPENAPI_URL = "/openapi.json"
TITLE = "micromailer API reference"

#: The web page's policy, with what ReDoc needs (see the module docstring).
REDOC_CONTENT_SECURITY_POLICY = (
    CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    + "; worker-src blob:"
)
REDOC_SECURITY_HEADERS = {
    **SECURITY_HEADERS, "Content-Security-Policy": REDOC_CONTENT_SECURITY_POLICY,
}

REDOC_BUNDLE = STATIC_DIR / "vendor" / "redoc" / "redoc.standalone.js"
#: The address ReDoc loads its menu's logo from, and what it is replaced with.
REDOCLY_LOGO_URL = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE_URL = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def read_swagger_ui() -> FileResponse:
    """Swagger UI: the operations, with *Try it out* against this service."""
    return FileResponse(STATIC_DIR / "docs" / "swagger-ui.html", media_type="text/html",
                        headers=SECURITY_HEADERS)


@router.get("/redoc")
async def read_redoc() -> HTMLResponse:
    """ReDoc: the same document as one long, searchable page."""
    page = get_redoc_html(
        openapi_url=OPENAPI_URL, title=TITLE,
        redoc_js_url="/redoc/redoc.standalone.js",
        redoc_favicon_url="/static/favicon.svg", with_google_fonts=False,
    )
    page.headers.update(REDOC_SECURITY_HEADERS)
    return page


@router.get("/redoc/redoc.standalone.js")
async def read_redoc_bundle() -> Response:
    """The vendored ReDoc bundle, with no request to Redocly's CDN."""
    return Response(offline_redoc_bundle(), media_type="text/javascript",
                    headers=REDOC_SECURITY_HEADERS)


@cache
def offline_redoc_bundle() -> bytes:
    """The bundle as published, with its one outside address replaced."""
    bundle = REDOC_BUNDLE.read_bytes()
    if bundle.count(REDOCLY_LOGO_URL) != 1:
        raise RuntimeError(f"{REDOC_BUNDLE} no longer loads its logo from {REDOCLY_LOGO_URL!r}; "
                           "check the new version for addresses outside this service")
    return bundle.replace(REDOCLY_LOGO_URL, EMPTY_IMAGE_URL)


__all__ = ["REDOC_CONTENT_SECURITY_POLICY", "offline_redoc_bundle", "router"]
