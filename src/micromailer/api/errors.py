"""Every error answers in one JSON shape with one human sentence; never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

STORE_UNAVAILABLE = (
    "The email store is unavailable right now; nothing was saved, try again shortly."
)
INTERNAL_ERROR = "An internal error occurred; it has been logged."


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
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        details = [
            {"field": "body" if error.get("type") == "json_invalid" else
                      ".".join(str(part) for part in error.get("loc", ())[1:]) or "body",
             "message": str(error.get("msg", "invalid"))}
            for error in errors
        ]
        return error_response(400, _validation_sentence(request, errors), details)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _store_down(_: Request, exc: DBAPIError) -> JSONResponse:
        log_store_down(exc)
        return error_response(503, STORE_UNAVAILABLE, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, INTERNAL_ERROR)


def _validation_sentence(request: Request, errors: Sequence[Mapping[str, Any]]) -> str:
    """The first of pydantic's errors as a sentence; a body absent, not JSON or not an object
    says what body the route needs."""
    first = errors[0] if errors else {}
    loc = tuple(first.get("loc", ()))
    message = str(first.get("msg", "invalid request")).rstrip(".")
    invalid_json = first.get("type") == "json_invalid"
    if loc[:1] != ("body",) or not (len(loc) == 1 or invalid_json):
        return f"`{'.'.join(str(part) for part in loc[1:])}`: {message}."
    needs = f"{request.method} {request.url.path} needs a JSON object {_body_fields(request)}"
    if invalid_json:
        return f"The body is not valid JSON; {needs}."
    return f"{needs}, sent with Content-Type: application/json."


def _body_fields(request: Request) -> str:
    """``with the field `content``` for the route's body model, in words."""
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return "body"
    names = [f"`{field.alias or name}`" for name, field in model.model_fields.items()
             if field.is_required()]
    if not names:
        return "body"
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"body with the field{'s' if len(names) > 1 else ''} {listed}"


def log_store_down(exc: DBAPIError) -> None:
    """One short line naming the driver's error class, not its message."""
    log.warning("store unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)


__all__ = [
    "INTERNAL_ERROR",
    "STORE_UNAVAILABLE",
    "ApiError",
    "error_response",
    "install_error_handlers",
    "log_store_down",
]
