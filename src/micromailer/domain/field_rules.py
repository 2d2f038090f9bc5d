"""The rules every field of a request shares: text, one header line, a problem sentence.

A rule raises :func:`problem`, a pydantic error carrying one sentence that names the field;
``domain/validation.py`` turns those into the 400's ``details``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic_core import PydanticCustomError

from micromailer.domain.header_text import describe, first_forbidden

#: The pydantic error type raised by the rules.
ERROR_TYPE = "invalid_email_request"


def problem(message: str) -> PydanticCustomError:
    """An error whose sentence is ``message``."""
    # The message goes in as context, not as the template, so braces in it stay literal.
    return PydanticCustomError(ERROR_TYPE, "{message}", {"message": message})


def text_value(field: str, value: object) -> str:
    """The value as a string, or a problem saying it is missing or of the wrong kind."""
    if value is None:
        raise problem(f"`{field}` is required.")
    if not isinstance(value, str):
        raise problem(f"`{field}` must be a string, not {kind(value)}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise problem(
            f"`{field}` must be valid Unicode text (it holds a lone surrogate)."
        ) from None
    return value


def header_text(field: str, value: object, max_length: int) -> str:
    """A stripped, single-line, bounded string fit for a mail header."""
    text = text_value(field, value).strip()
    if not text:
        raise problem(f"`{field}` must not be empty.")
    check_header_line(field, text, max_length)
    return text


def check_header_line(field: str, text: str, max_length: int) -> None:
    """Refuse ``text`` if a mail header cannot hold it: a forbidden character, or too long."""
    forbidden = first_forbidden(text)
    if forbidden is not None:
        raise problem(
            f"`{field}` must not contain {describe(forbidden)}; it goes into a mail header, "
            "which must be one line of visible text."
        )
    if len(text) > max_length:
        raise problem(
            f"`{field}` must be at most {max_length} characters long; it has {len(text)}."
        )


def kind(value: object) -> str:
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


__all__ = ["ERROR_TYPE", "check_header_line", "header_text", "kind", "problem", "text_value"]
