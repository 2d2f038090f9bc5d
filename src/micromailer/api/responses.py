"""The error answers routes declare for the OpenAPI document, worded once.

Every one has the body of ``api/errors.py: error_response`` (:class:`ErrorBody`); a route lists
those it can really give, and nothing else (``api/openapi.py`` drops FastAPI's 422). The
answers of the gates in front of every route (``Host``, other sites, API key, rate limit) are
added to each operation by ``api/openapi.py`` from :data:`GATE_ANSWERS`, so that no route can
forget one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

#: The request's ``Idempotency-Key`` cannot be honoured (``POST /email``).
IDEMPOTENCY_CONFLICT: Responses = error(
    409,
    "The `Idempotency-Key` was already used by this project within 24 hours with another "
    "request, or the first request with it is still being answered; `error` says which. "
    "Send a new key for a new email, or retry the same request a moment later.",
)

#: ``Idempotency-Key``: the one request header ``POST /email`` reads besides the body's.
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: the same key with the same request within 24 hours (per project) "
        "gets the first answer again, status and body, and sends nothing new; with another "
        "request, 409. 1 to 255 printable ASCII characters without spaces; a random UUID is "
        "a good one."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "examples": {"uuid": {"value": "5f0c6a4e-2b7d-4c1a-9a55-0d8e3b1f7c21"}},
}

# -- The gates' answers (api/gate.py, security/sites.py), added by api/openapi.py ------------

#: The security scheme's name in ``components.securitySchemes``.
SECURITY_SCHEME = "bearerAuth"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    SECURITY_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "An API key, sent as `Authorization: Bearer <key>` on every request (an operator "
            "makes one with `micromailer keys create NAME`). Needed as soon as one key exists, "
            "or with `MICROMAILER_REQUIRE_AUTH=true`; until then the API is open. `/metrics` "
            "and `/sandbox*` need an admin key (`--scope admin`)."
        ),
    }
}

#: Headers every success of a keyed operation may carry, and every 429.
RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit": {
        "description": (
            "The key's remaining budget in its current window, as an IETF structured field "
            "(draft-ietf-httpapi-ratelimit-headers). Sent when a rate limit applies."
        ),
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": (
            "The key's limit (`MICROMAILER_RATE_LIMIT`, or its own from `keys create --rate`), "
            "as an IETF structured field (draft-ietf-httpapi-ratelimit-headers). Sent when a "
            "rate limit applies."
        ),
        "schema": {"type": "string"},
    },
}
#: ``WWW-Authenticate`` on every 401.
_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "`Bearer realm=\"micromailer\"`: the scheme the key goes in.",
        "schema": {"type": "string"},
    }
}

HOST_NOT_ALLOWED = (
    "Host not allowed: the `Host` header names no host this server answers to (add it to "
    "`MICROMAILER_ALLOWED_HOSTS`), or the request carries no single `Host`."
)
OTHER_SITE = (
    "Another site: the request came from another site's web page (its `Origin` or "
    "`Sec-Fetch-Site` says so), and that origin is not in `MICROMAILER_ALLOWED_ORIGINS`."
)
NOT_ADMIN = (
    "Admin only: the API key is a send key; this operation needs an admin key "
    "(`micromailer keys create NAME --scope admin`)."
)


@dataclass(frozen=True)
class GateAnswer:
    """One answer a gate may give an operation, whatever the operation does."""

    status: int
    description: str
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Whether ``description`` is added to an operation's own answer of the same status;
    #: ``False`` where the operation's own already says it (the store's 503).
    adds_sentence: bool = True


#: What the site checks answer, on every operation (but the probes' ``Host`` check).
HOST_REFUSED = GateAnswer(400, HOST_NOT_ALLOWED)
SITE_REFUSED = GateAnswer(403, OTHER_SITE)
#: What the key gate answers, on every operation that needs a key.
KEY_REFUSED = GateAnswer(
    401,
    "No valid API key: authentication is on, and the request has no `Authorization` header, "
    "one that is not `Bearer <key>`, or a key that is unknown or revoked; `error` says which.",
    _CHALLENGE,
)
RATE_REFUSED = GateAnswer(
    429,
    "Too many requests: over the API key's rate limit, nothing was done. Retry after "
    "`Retry-After` seconds.",
    {**_RETRY_AFTER, **RATE_LIMIT_HEADERS},
)
KEYS_UNAVAILABLE = GateAnswer(
    503,
    "The store is unreachable, so the API key could not be checked; nothing was done. Try "
    "again after `Retry-After` seconds.",
    _RETRY_AFTER,
    adds_sentence=False,
)
#: And on the operations that need an admin key.
ADMIN_REFUSED = GateAnswer(403, NOT_ADMIN)

__all__ = [
    "ADMIN_REFUSED",
    "BODY_TOO_LARGE",
    "HOST_REFUSED",
    "IDEMPOTENCY_CONFLICT",
    "IDEMPOTENCY_KEY_PARAMETER",
    "KEYS_UNAVAILABLE",
    "KEY_REFUSED",
    "RATE_LIMIT_HEADERS",
    "RATE_REFUSED",
    "SECURITY_SCHEME",
    "SECURITY_SCHEMES",
    "SITE_REFUSED",
    "STORE_UNAVAILABLE",
    "GateAnswer",
    "Responses",
    "error",
]
