"""CORS for the origins of ``MICROMAILER_ALLOWED_ORIGINS``: Starlette's ``CORSMiddleware``,
its refused preflights answered in the API's refusal shape."""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

ALLOW_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
#: What a page may read of an answer besides the safelisted headers.
EXPOSE_HEADERS = ("Location", "Retry-After", "RateLimit", "RateLimit-Policy")

PREFLIGHT_REFUSED = (
    "This cross-origin request asks for a method or header the API does not allow: it takes "
    f"{', '.join(ALLOW_METHODS)} with the headers {', '.join(ALLOW_HEADERS)}."
)


class AllowedOriginsCors(CORSMiddleware):
    """CORS answers for ``origins`` only. A preflight is answered here, before the key gate,
    since browsers send it without the key; listed origins may also reach a server on a
    private address (Chrome's Private Network Access)."""

    def __init__(self, app: ASGIApp, origins: Collection[str]) -> None:
        super().__init__(
            app,
            allow_origins=sorted(origins),
            allow_methods=ALLOW_METHODS,
            allow_headers=ALLOW_HEADERS,
            expose_headers=EXPOSE_HEADERS,
            allow_private_network=True,
            max_age=600,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code < 400:
            return answer
        headers = {name: value for name, value in answer.headers.items()
                   if name not in ("content-length", "content-type")}
        return JSONResponse({"status": "failed", "error": PREFLIGHT_REFUSED, "details": []},
                            status_code=answer.status_code, headers=headers)


__all__ = ["ALLOW_HEADERS", "ALLOW_METHODS", "EXPOSE_HEADERS", "AllowedOriginsCors"]
