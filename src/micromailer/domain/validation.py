"""Validation of a ``POST /email`` request, independent of the web framework.

The rules live on :class:`EmailRequest` itself, so the model refuses bad values however it is
built; :func:`parse_email_request` turns pydantic's errors into :class:`InvalidEmailRequest`,
whose ``message`` is one sentence a person can act on and whose ``details`` list every problem.
``to``, ``to_name`` and ``subject`` go into mail headers: they hold none of the characters
``header_text`` forbids, which the OpenAPI document's patterns share. Each field's rule is on
its validator; docs/api.md lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from micromailer.domain.header_text import describe, first_forbidden
from micromailer.domain.simulator import is_simulator_address

MAX_TO_LENGTH = 254
MAX_TO_NAME_LENGTH = 200
MAX_SUBJECT_LENGTH = 998
MAX_CONTENT_BYTES = 512 * 1024

#: The pydantic error type raised by this module's rules.
ERROR_TYPE = "invalid_email_request"


class ProblemDetail(TypedDict):
    """One problem with one field; ``message`` is a full sentence naming the field."""

    field: str
    message: str


class InvalidEmailRequest(Exception):
    """The request cannot become an email. ``message`` says what to fix first."""

    def __init__(self, details: list[ProblemDetail]) -> None:
        self.details = details
        self.message = summarize(details)
        super().__init__(self.message)


class EmailRequest(BaseModel):
    """A valid request to send one email; build it with :func:`parse_email_request`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    to: str = Field(description="Recipient address, e.g. jane@example.com.")
    to_name: str | None = Field(default=None, description="Recipient's display name.")
    subject: str = Field(description="Subject line.")
    content: str = Field(description="Body, in Markdown.")

    @field_validator("to", mode="before")
    @classmethod
    def _check_to(cls, value: object) -> str:
        text = _header_text("to", value, MAX_TO_LENGTH)
        if "<" in text or ">" in text:
            raise _problem(
                "`to` must be a bare email address such as jane@example.com, without a display "
                "name or angle brackets; put the name in `to_name`."
            )
        try:
            validated = validate_email(
                text, check_deliverability=False, allow_display_name=False, strict=True,
                # the simulator's reserved recipients, and no other name under ``.test``
                test_environment=is_simulator_address(text),
            )
        except EmailNotValidError as exc:
            raise _problem(f"`to` must be a valid email address: {exc}") from None
        return validated.normalized

    @field_validator("to_name", mode="before")
    @classmethod
    def _check_to_name(cls, value: object) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return _header_text("to_name", value, MAX_TO_NAME_LENGTH)

    @field_validator("subject", mode="before")
    @classmethod
    def _check_subject(cls, value: object) -> str:
        return _header_text("subject", value, MAX_SUBJECT_LENGTH)

    @field_validator("content", mode="before")
    @classmethod
    def _check_content(cls, value: object) -> str:
        text = _text("content", value)
        if not text.strip():
            raise _problem("`content` must not be empty.")
        if "\x00" in text:
            raise _problem("`content` must not contain NUL characters.")
        size = len(text.encode("utf-8"))
        if size > MAX_CONTENT_BYTES:
            raise _problem(
                f"`content` must be at most {MAX_CONTENT_BYTES // 1024} KiB once encoded as "
                f"UTF-8; it is {size} bytes."
            )
        return text


def parse_email_request(data: Mapping[str, object]) -> EmailRequest:
    """Validate a decoded request body (JSON object or form fields).

    Raises :class:`InvalidEmailRequest` listing every problem found.
    """
    if not isinstance(data, Mapping):
        raise InvalidEmailRequest(
            [
                ProblemDetail(
                    field="body",
                    message="The request body must be an object with the fields `to`, "
                    "`subject` and `content`.",
                )
            ]
        )
    try:
        return EmailRequest.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidEmailRequest([_detail(error) for error in exc.errors()]) from None


def summarize(details: list[ProblemDetail]) -> str:
    """One sentence: the first problem, then how many more there are."""
    if not details:
        return "The request is invalid."
    first = details[0]["message"]
    more = len(details) - 1
    if more == 0:
        return first
    noun = "problem" if more == 1 else "problems"
    return f"{first.rstrip('.')} (and {more} more {noun})."


# -- helpers ----------------------------------------------------------------------------


def _problem(message: str) -> PydanticCustomError:
    # The message goes in as context, not as the template, so braces in it stay literal.
    return PydanticCustomError(ERROR_TYPE, "{message}", {"message": message})


def _detail(error: ErrorDetails) -> ProblemDetail:
    """Turn one pydantic error into a detail whose message names the field."""
    loc = error["loc"]
    field = str(loc[0]) if loc else "body"
    kind = error["type"]
    if kind == ERROR_TYPE and "ctx" in error:
        message = str(error["ctx"]["message"])
    elif kind == "missing":
        message = f"`{field}` is required."
    else:  # not produced by our rules; kept readable all the same
        message = f"`{field}` is invalid: {error['msg'].rstrip('.')}."
    return ProblemDetail(field=field, message=message)


def _text(field: str, value: object) -> str:
    """The value as a string, or a problem saying it is missing or of the wrong kind."""
    if value is None:
        raise _problem(f"`{field}` is required.")
    if not isinstance(value, str):
        raise _problem(f"`{field}` must be a string, not {_kind(value)}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _problem(
            f"`{field}` must be valid Unicode text (it holds a lone surrogate)."
        ) from None
    return value


def _header_text(field: str, value: object, max_length: int) -> str:
    """A stripped, single-line, bounded string fit for a mail header."""
    text = _text(field, value).strip()
    if not text:
        raise _problem(f"`{field}` must not be empty.")
    forbidden = first_forbidden(text)
    if forbidden is not None:
        raise _problem(
            f"`{field}` must not contain {describe(forbidden)}; it goes into a mail header, "
            "which must be one line of visible text."
        )
    if len(text) > max_length:
        raise _problem(
            f"`{field}` must be at most {max_length} characters long; it has {len(text)}."
        )
    return text


def _kind(value: object) -> str:
    """What a JSON-ish value is, in words."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    return f"a {type(value).__name__}"


__all__ = [
    "ERROR_TYPE",
    "MAX_CONTENT_BYTES",
    "MAX_SUBJECT_LENGTH",
    "MAX_TO_LENGTH",
    "MAX_TO_NAME_LENGTH",
    "EmailRequest",
    "InvalidEmailRequest",
    "ProblemDetail",
    "parse_email_request",
    "summarize",
]
