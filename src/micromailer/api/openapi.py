"""The OpenAPI document: FastAPI's, without the answer this API never gives, with the answers
of the gates every request passes.

FastAPI adds a 422 "Validation Error" to every operation that has parameters or a body, but
this API answers a request that fails validation with 400 and its own error body
(``api/errors.py``); :func:`without_validation_errors` drops the 422s and the two schemas they
referred to. The site checks and the key gate (``security/sites.py``, ``api/gate.py``) answer
in front of every route; :func:`with_gate_answers` declares the bearer scheme and adds their
answers to each operation by the path's access (``security/access.py``), so that the document
cannot drift from the gate. :func:`install_openapi` replaces ``app.openapi`` (FastAPI's
documented way to change the document) with one that does both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from micromailer.api.request_schema import sender_pattern
from micromailer.api.responses import (
    ADMIN_REFUSED,
    HOST_REFUSED,
    KEY_REFUSED,
    KEYS_UNAVAILABLE,
    RATE_LIMIT_HEADERS,
    RATE_REFUSED,
    SECURITY_SCHEME,
    SECURITY_SCHEMES,
    SITE_REFUSED,
    GateAnswer,
)
from micromailer.api.schemas import ErrorBody
from micromailer.security.access import Access, access_for
from micromailer.security.sites import PROBES

#: FastAPI's default answer, and the schemas only it refers to.
_VALIDATION_ERROR_STATUS = "422"
_VALIDATION_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")

_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_ERROR_REF = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}


def install_openapi(app: FastAPI, sender_domains: Sequence[str] = ()) -> None:
    """Serve ``app``'s document without FastAPI's 422s, with the gates' answers and with the
    deployment's sender domains, built once, on first use."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                description=app.description, routes=app.routes, tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = with_sender_domains(
                with_gate_answers(without_validation_errors(document)), sender_domains
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_sender_domains(document: dict[str, Any], domains: Sequence[str]) -> dict[str, Any]:
    """``from`` limited to the deployment's sender domains, in ``POST /email``'s body and in
    each item of ``POST /emails``'s (a special-use domain, such as the default ``localhost``,
    leaves no ``from`` valid)."""
    pattern = sender_pattern(domains)
    for schema in _email_schemas(document):
        field = schema["properties"]["from"]
        if pattern is None:
            schema["properties"]["from"] = {
                "not": {}, "description": field["description"]
                + " This deployment's sender domains are special-use names: no `from` is valid."
            }
        else:
            field["pattern"] = pattern
    return document


def _email_schemas(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every schema of one email's fields: ``POST /email``'s, one per media type, and the
    items of ``POST /emails``'s list."""
    paths = document["paths"]
    schemas = [media["schema"]
               for media in paths["/email"]["post"]["requestBody"]["content"].values()]
    batch = paths.get("/emails", {}).get("post")
    if batch is not None:
        schemas += [media["schema"]["properties"]["emails"]["items"]
                    for media in batch["requestBody"]["content"].values()]
    return schemas


def without_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with no 422 answer and no schema that only the 422s used."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            operation.get("responses", {}).pop(_VALIDATION_ERROR_STATUS, None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in _VALIDATION_ERROR_SCHEMAS:
        schemas.pop(name, None)
    return document


def with_gate_answers(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the bearer scheme, required by every operation whose path needs a key,
    and on each operation the answers the gates can give it."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    if ErrorBody.__name__ not in schemas:
        raise RuntimeError("no route declares the error body; the gates' answers refer to it")
    for path, path_item in document.get("paths", {}).items():
        access = access_for(path)
        for method, operation in path_item.items():
            if method in _METHODS:
                _add_gate_answers(operation, _answers(path, access))
                if access is not Access.PUBLIC:
                    operation["security"] = [{SECURITY_SCHEME: []}]
                    _add_rate_headers(operation)
    return document


def _answers(path: str, access: Access) -> list[GateAnswer]:
    """What the gates may answer on ``path``, in the order they check."""
    # The probes answer whatever the ``Host`` (Kubernetes names the pod's address).
    answers = [SITE_REFUSED] if path in PROBES else [HOST_REFUSED, SITE_REFUSED]
    if access is not Access.PUBLIC:
        answers += [KEY_REFUSED, KEYS_UNAVAILABLE]
    if access is Access.ADMIN:
        answers.append(ADMIN_REFUSED)
    if access is not Access.PUBLIC:
        answers.append(RATE_REFUSED)
    return answers


def _add_gate_answers(operation: dict[str, Any], answers: list[GateAnswer]) -> None:
    """Add each answer to the operation's own of that status, or as a new error answer."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for answer in answers:
        status = str(answer.status)
        own = responses.get(status)
        if own is None:
            responses[status] = {
                "description": answer.description,
                **({"headers": dict(answer.headers)} if answer.headers else {}),
                "content": {"application/json": {"schema": dict(_ERROR_REF)}},
            }
            continue
        if answer.adds_sentence and answer.description not in own["description"]:
            own["description"] = f"{own['description'].rstrip()} {answer.description}"
        if answer.headers:
            own["headers"] = {**own.get("headers", {}), **answer.headers}
        content = own.setdefault("content", {})
        media = content.setdefault("application/json", {"schema": dict(_ERROR_REF)})
        schema = media.get("schema")
        if schema != _ERROR_REF and _ERROR_REF not in (schema or {}).get("anyOf", []):
            media["schema"] = {"anyOf": [schema, dict(_ERROR_REF)]} if schema else _ERROR_REF
    operation["responses"] = dict(sorted(responses.items()))


def _add_rate_headers(operation: dict[str, Any]) -> None:
    """Every success of a keyed operation may carry the key's budget."""
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            response["headers"] = {**response.get("headers", {}), **RATE_LIMIT_HEADERS}


__all__ = ["install_openapi", "with_gate_answers", "without_validation_errors"]
