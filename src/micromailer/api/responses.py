"""The error answers routes declare for the OpenAPI document, worded once.

Every one has the body of ``api/errors.py: error_response`` (:class:`ErrorBody`); a route lists
those it can really give, and nothing else (``api/openapi.py`` drops FastAPI's 422).
"""

from __future__ import annotations

from typing import Any

from micromailer.api.schemas import ErrorBody

Responses = dict[int | str, dict[str, Any]]

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def error(status: int, description: str, **extra: Any) -> Responses:
    """One error answer: ``status`` with the error body and ``description``."""
    return {status: {"model": ErrorBody, "description": description, **extra}}


#: The store (SQLite or PostgreSQL) did not answer.
STORE_UNAVAILABLE: Responses = error(
    503, "The store is unreachable; nothing was saved or read. Try again shortly.",
    headers=_RETRY_AFTER,
)

#: The body is over ``MICROMAILER_MAX_BODY_BYTES``; the connection is closed after the answer.
BODY_TOO_LARGE: Responses = error(
    413,
    "The body is over the limit (`MICROMAILER_MAX_BODY_BYTES`, 1 MiB by default); the rest "
    "of it is not read and the connection is closed.",
)

__all__ = ["BODY_TOO_LARGE", "STORE_UNAVAILABLE", "Responses", "error"]
