"""Every error answers in one JSON shape with one human sentence; never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

STORE_UNAVAILABLE = (
    "The email store is unavailable right now; nothing was saved, try again shortly."
)


class ApiError(Exception):
    """An error with a status and a sentence for the client."""

    def __init__(
        self, status_code: int, message: str, details: Sequence[Mapping[str, object]] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.details = [
            {key: str(value) for key, value in detail.items()} for detail in details or ()
        ]


def error_response(status_code: int, message: str, details: list[dict[str, str]] | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"status": "failed", "error": message, "details": details or []},
        status_code=status_code,
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.message, exc.details)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "The request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address; see /docs for the API."
        elif exc.status_code == 405:
            message = "This method is not allowed here; see /docs for the API."
        return error_response(exc.status_code, message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(part) for part in error.get("loc", ())[1:]),
             "message": str(error.get("msg", "invalid"))}
            for error in exc.errors()
        ]
        first = details[0] if details else {"field": "", "message": "invalid request"}
        return error_response(400, f"`{first['field']}`: {first['message']}.", details)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _store_down(_: Request, exc: DBAPIError) -> JSONResponse:
        log.warning("store unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        return error_response(503, STORE_UNAVAILABLE, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "An internal error occurred; it has been logged.")


__all__ = ["STORE_UNAVAILABLE", "ApiError", "error_response", "install_error_handlers"]
