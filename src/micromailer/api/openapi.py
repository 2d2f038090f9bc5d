"""The OpenAPI document: FastAPI's, without the answer this API never gives.

FastAPI adds a 422 "Validation Error" to every operation that has parameters or a body, but
this API answers a request that fails validation with 400 and its own error body
(``api/errors.py``). Each route declares what it really answers; :func:`install_openapi`
replaces ``app.openapi`` (FastAPI's documented way to change the document) with one that drops
the 422s and the two schemas they referred to.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

#: FastAPI's default answer, and the schemas only it refers to.
_VALIDATION_ERROR_STATUS = "422"
_VALIDATION_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI) -> None:
    """Serve ``app``'s document without FastAPI's 422s, built once, on first use."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                description=app.description, routes=app.routes, tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = without_validation_errors(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def without_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with no 422 answer and no schema that only the 422s used."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            operation.get("responses", {}).pop(_VALIDATION_ERROR_STATUS, None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in _VALIDATION_ERROR_SCHEMAS:
        schemas.pop(name, None)
    return document


__all__ = ["install_openapi", "without_validation_errors"]
