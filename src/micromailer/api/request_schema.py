"""The ``POST /email`` body as JSON Schema, built from the rules that validate it.

The character rule of ``to``, ``to_name`` and ``subject`` is ``domain/header_text.py``'s, the
limits are ``domain/validation.py``'s and the refused domains are email-validator's own list, so
the document cannot drift from the validation. Every value the schema allows is accepted; the
few rules JSON Schema cannot say (the address syntax beyond ``format: email``, the content's
size in UTF-8 bytes) are in the descriptions, and the schema errs on the strict side there.
Patterns are linear (no nested or overlapping repeats): any client may run them on any input.
"""

from __future__ import annotations

from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from micromailer.domain.header_text import FORBIDDEN_CLASS, HEADER_TEXT_PATTERN
from micromailer.domain.simulator import SIMULATOR_DOMAIN
from micromailer.domain.validation import (
    MAX_CONTENT_BYTES,
    MAX_SUBJECT_LENGTH,
    MAX_TO_LENGTH,
    MAX_TO_NAME_LENGTH,
)

#: Every character ``str.strip()`` removes (``str.isspace()``), as a character-class body: a
#: value made only of these is blank.
WHITESPACE_CLASS = (
    r"\t\n\u000b\u000c\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029"
    r"\u202f\u205f\u3000"
)
#: The whitespace a header field may hold (the rest are refused characters).
_HEADER_SPACES = r"\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
#: RFC 5321's limit on the part of an address before the ``@``.
MAX_LOCAL_PART_LENGTH = 64
#: A UTF-8 character is at most 4 bytes: this many characters always fit in the content limit.
MAX_CONTENT_CHARACTERS = MAX_CONTENT_BYTES // 4

#: Media types ``POST /email`` reads (``+json`` types are read as JSON too).
MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")


def _any_case(word: str) -> str:
    """``test`` → ``[tT][eE][sS][tT]``: ECMA-262 patterns have no inline case-insensitive flag."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


#: A non-blank header field: spaces, then one character that is neither space nor refused,
#: then anything allowed (one way to match, so linear).
NON_BLANK_HEADER_PATTERN = (
    f"^[{_HEADER_SPACES}]*[^{FORBIDDEN_CLASS}{_HEADER_SPACES}][^{FORBIDDEN_CLASS}]*$"
)
#: Content: not blank, no NUL.
CONTENT_PATTERN = f"^[{WHITESPACE_CLASS}]*[^\\u0000{WHITESPACE_CLASS}][^\\u0000]*$"
_SPECIAL_USE = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
_SIMULATOR = _any_case(SIMULATOR_DOMAIN).replace(".", r"\.")
_NOT_IN_ADDRESS = f"@<>{WHITESPACE_CLASS}"
#: An address: at most 64 characters before its one ``@``, no space or angle bracket (a bare
#: address, no display name), no special-use domain but the simulator's, header-safe.
ADDRESS_PATTERN = (
    f"^(?=[^{_NOT_IN_ADDRESS}]{{1,{MAX_LOCAL_PART_LENGTH}}}@[^{_NOT_IN_ADDRESS}]+$)"
    f"(?:(?=.*@{_SIMULATOR}$)|(?!.*[@.](?:{_SPECIAL_USE})$))"
    f"{HEADER_TEXT_PATTERN[1:]}"
)


def email_fields_schema(*, json: bool) -> dict[str, Any]:
    """The body's fields; ``json`` adds what only JSON can say (``to_name: null``)."""
    name_types: str | list[str] = ["string", "null"] if json else "string"
    special_use = ", ".join(f".{name}" for name in SPECIAL_USE_DOMAIN_NAMES)
    return {
        "type": "object",
        "required": ["to", "subject", "content"],
        "properties": {
            "to": {
                "type": "string",
                "format": "email",
                "maxLength": MAX_TO_LENGTH,
                "pattern": ADDRESS_PATTERN,
                "description": (
                    "The recipient: one bare address (no display name, no angle brackets), at "
                    f"most {MAX_TO_LENGTH} characters and {MAX_LOCAL_PART_LENGTH} before the "
                    "`@`, checked by email-validator without any DNS look-up and stored in its "
                    f"normalized form. Special-use domains ({special_use}) are refused: they "
                    "are never real recipients, except the simulator's reserved recipients at "
                    f"`{SIMULATOR_DOMAIN}` (`delivered@`, `temp-fail@`, `perm-fail@`, `slow@`), "
                    "which force an outcome in the sandbox and for test keys. Leading and "
                    "trailing spaces are removed."
                ),
                "examples": ["jane@example.com"],
            },
            "to_name": {
                "type": name_types,
                "maxLength": MAX_TO_NAME_LENGTH,
                "pattern": HEADER_TEXT_PATTERN,
                "description": (
                    "The recipient's display name. Optional; empty, blank"
                    + (" or `null`" if json else "")
                    + " means none. No control, bidirectional or invisible characters "
                    "(they could inject mail headers or disguise the name)."
                ),
                "examples": ["Jane Doe"],
            },
            "subject": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_SUBJECT_LENGTH,
                "pattern": NON_BLANK_HEADER_PATTERN,
                "description": (
                    f"One line of at most {MAX_SUBJECT_LENGTH} characters, not blank; no "
                    "control, bidirectional or invisible characters."
                ),
                "examples": ["Your order has shipped"],
            },
            "content": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_CONTENT_CHARACTERS,
                "pattern": CONTENT_PATTERN,
                "description": (
                    "The body, in Markdown; sent as HTML with a plain-text alternative (raw "
                    "HTML is escaped). Not blank, no NUL character, at most "
                    f"{MAX_CONTENT_BYTES // 1024} KiB once encoded as UTF-8 (`maxLength` is "
                    "the count that fits whatever the characters: 4 bytes each at most)."
                ),
                "examples": ["Hello **Jane**, your order is on its way."],
            },
        },
        # In a form every field is one piece of text: no list (a repeated field), no file.
        **({} if json else {"additionalProperties": {"type": "string"}}),
        "description": "Other fields are ignored.",
    }


def email_request_body() -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of ``POST /email``: one schema per media type it reads."""
    return {
        "required": True,
        "description": (
            "JSON, a URL-encoded form or a multipart form (text fields only), in UTF-8. A JSON "
            "object with a repeated key, nested too deeply, or a form that is not valid UTF-8 "
            "is refused (400); so is a body with any `Content-Encoding` but `identity` (415)."
        ),
        "content": {
            media_type: {"schema": email_fields_schema(json=media_type == "application/json")}
            for media_type in MEDIA_TYPES
        },
    }


__all__ = [
    "ADDRESS_PATTERN",
    "CONTENT_PATTERN",
    "MAX_CONTENT_CHARACTERS",
    "MAX_LOCAL_PART_LENGTH",
    "MEDIA_TYPES",
    "NON_BLANK_HEADER_PATTERN",
    "WHITESPACE_CLASS",
    "email_fields_schema",
    "email_request_body",
]
