"""The ``POST /email`` body as JSON Schema, built from the rules that validate it.

The character rule of ``to``, ``to_name`` and ``subject`` is ``domain/header_text.py``'s, the
limits are ``domain/validation.py``'s and the refused domains are email-validator's own list, so
the document cannot drift from the validation. Every value the schema allows is accepted; the
few rules JSON Schema cannot say (the address syntax beyond ``format: email``, the content's
size in UTF-8 bytes) are in the descriptions, and the schema errs on the strict side there.
Patterns are linear (no nested or overlapping repeats): any client may run them on any input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from micromailer.domain.batch import MAX_BATCH_ITEMS
from micromailer.domain.header_text import FORBIDDEN_CLASS, HEADER_SPACES, HEADER_TEXT_PATTERN
from micromailer.domain.message_fields import (
    CONTENT_ID_PATTERN,
    CONTENT_TYPE_PATTERN,
    FILENAME_PATTERN,
    MAX_ATTACHMENTS,
    MAX_FILENAME_LENGTH,
    MAX_HEADER_VALUE_LENGTH,
    MAX_HEADERS,
    MAX_METADATA_KEY_LENGTH,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    RESERVED_METADATA_KEYS,
    RESERVED_X_PREFIXES,
    SAFE_HEADERS,
)
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
    f"^[{HEADER_SPACES}]*[^{FORBIDDEN_CLASS}{HEADER_SPACES}][^{FORBIDDEN_CLASS}]*$"
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


#: Most addresses the schema shows in one field's list; the server's bound is on the whole
#: message (MICROMAILER_MAX_RECIPIENTS, 1,000 by default), three fields of this many fit.
MAX_LIST_ADDRESSES = 300
#: Form fields the schema leaves out: files, and objects sent as JSON text.
FORM_ONLY_AS_FILES_OR_JSON = ("attachments", "inline", "headers", "metadata")
#: A tag, as every provider that takes tags accepts it.
TAG_PATTERN = f"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_TAG_LENGTH - 1}}}"
#: Base64 of RFC 4648 with its padding, no line breaks.
BASE64_PATTERN = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
#: ``X-`` headers but the providers' own and spam verdicts, or one of the safe list.
HEADER_NAME_PATTERN = (
    "^(?:[Xx]-(?!(?:" + "|".join(_any_case(prefix) for prefix in RESERVED_X_PREFIXES) + "))"
    "[A-Za-z0-9-]{1,73}|" + "|".join(_any_case(name) for name in sorted(SAFE_HEADERS)) + ")$"
)
METADATA_KEY_PATTERN = (
    "^(?!" + "|".join(_any_case(key) + "$" for key in sorted(RESERVED_METADATA_KEYS)) + ")"
    f"[A-Za-z][A-Za-z0-9_-]{{0,{MAX_METADATA_KEY_LENGTH - 1}}}$"
)


def sender_pattern(domains: Sequence[str]) -> str | None:
    """:data:`ADDRESS_PATTERN` within ``domains``; ``None`` when every one is special-use (no
    address of theirs is valid)."""
    usable = [name for name in domains
              if not any(name == special or name.endswith(f".{special}")
                         for special in SPECIAL_USE_DOMAIN_NAMES)]
    if not usable:
        return None
    names = "|".join(_any_case(name).replace(".", r"\.") for name in usable)
    return f"^(?=[^@]*@(?:{names})$){ADDRESS_PATTERN[1:]}"


def _address_schema() -> dict[str, Any]:
    return {"type": "string", "format": "email", "maxLength": MAX_TO_LENGTH,
            "pattern": ADDRESS_PATTERN}


def _addresses_schema(*, json: bool) -> dict[str, Any]:
    if not json:
        return _address_schema()
    return {"oneOf": [
        _address_schema(),
        {"type": "array", "minItems": 1, "maxItems": MAX_LIST_ADDRESSES,
         "items": _address_schema()},
    ]}


def _tags_schema(*, json: bool) -> dict[str, Any]:
    description = (
        f"At most {MAX_TAGS} tags of ASCII letters, digits, `_` and `-`, passed to the "
        "providers that take tags"
    )
    if not json:
        return {"type": "string",
                "pattern": f"^{TAG_PATTERN}(?:,{TAG_PATTERN}){{0,{MAX_TAGS - 1}}}$",
                "description": description + ", separated by commas."}
    return {"type": "array", "maxItems": MAX_TAGS,
            "items": {"type": "string", "pattern": f"^{TAG_PATTERN}$"},
            "description": description + "."}


def _attachments_schema() -> dict[str, Any]:
    return {
        "type": "array", "maxItems": MAX_ATTACHMENTS,
        "description": (
            "Files, each base64 in JSON (or a multipart part named `attachments`); one with a "
            "`contentId` is an inline image the HTML shows as `cid:<contentId>`. Stored once; "
            "`GET /email/{id}` shows their names and sizes, never their content. The whole "
            "message is bounded by MICROMAILER_MAX_MESSAGE_BYTES."
        ),
        "items": {
            "type": "object",
            "required": ["filename", "contentType", "content"],
            "additionalProperties": False,
            "properties": {
                "filename": {"type": "string", "maxLength": MAX_FILENAME_LENGTH,
                             "pattern": FILENAME_PATTERN},
                "contentType": {"type": "string", "pattern": f"^{CONTENT_TYPE_PATTERN}$"},
                "content": {"type": "string", "pattern": BASE64_PATTERN,
                            "contentEncoding": "base64"},
                "contentId": {"type": "string", "pattern": f"^{CONTENT_ID_PATTERN}$"},
            },
        },
    }


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object", "maxProperties": MAX_HEADERS,
        "propertyNames": {"pattern": HEADER_NAME_PATTERN},
        "additionalProperties": {"type": "string", "maxLength": MAX_HEADER_VALUE_LENGTH,
                                 "pattern": NON_BLANK_HEADER_PATTERN},
        "description": (
            "Extra mail headers: any `X-` header but the providers' own, and List-Unsubscribe, "
            "List-Id, In-Reply-To, References and the like; never one that addresses, routes "
            "or signs the message."
        ),
    }


def _metadata_schema() -> dict[str, Any]:
    return {
        "type": "object", "maxProperties": MAX_METADATA_KEYS,
        "propertyNames": {"pattern": METADATA_KEY_PATTERN},
        "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE_LENGTH,
                                 "pattern": HEADER_TEXT_PATTERN},
        "description": "Keys and string values passed to the providers that take metadata.",
    }


def email_fields_schema(*, json: bool) -> dict[str, Any]:
    """The body's fields; ``json`` adds what only JSON can say (``to_name: null``)."""
    name_types: str | list[str] = ["string", "null"] if json else "string"
    special_use = ", ".join(f".{name}" for name in SPECIAL_USE_DOMAIN_NAMES)
    return {
        "type": "object",
        "required": ["to", "subject"],
        "properties": {
            "to": {
                **_addresses_schema(json=json),
                "description": (
                    "The recipients. The schema shows bare addresses, alone or (JSON) in a "
                    f"list of at most {MAX_LIST_ADDRESSES}; the server also takes "
                    "`Jane Doe <jane@example.com>`, `{\"email\", \"name\"}` objects, and "
                    "several addresses in one string separated by commas. Each address: at "
                    f"most {MAX_TO_LENGTH} characters and {MAX_LOCAL_PART_LENGTH} before the "
                    "`@`, checked by email-validator without any DNS look-up and stored in its "
                    f"normalized form. Special-use domains ({special_use}) are refused: they "
                    "are never real recipients, except the simulator's reserved recipients at "
                    f"`{SIMULATOR_DOMAIN}` (`delivered@`, `temp-fail@`, `perm-fail@`, `slow@`, "
                    "`bounce@`, `complain@`), which force an outcome in the sandbox and for "
                    "test keys. Leading and trailing spaces are removed."
                ),
                "examples": ["jane@example.com"],
            },
            "cc": {**_addresses_schema(json=json),
                   "description": "Copy recipients, written as `to`'s."},
            "bcc": {**_addresses_schema(json=json),
                    "description": "Hidden recipients, written as `to`'s: never in a header."},
            "reply_to": {**_addresses_schema(json=json),
                         "description": "Where replies go, written as `to`'s."},
            "from": {
                "type": "string", "format": "email", "maxLength": MAX_TO_LENGTH,
                "pattern": ADDRESS_PATTERN,
                "description": (
                    "The sender, instead of MICROMAILER_SENDER_EMAIL: an address of one of "
                    "MICROMAILER_SENDER_DOMAINS (by default the default sender's domain); any "
                    "other domain is refused. The server also takes `Name <addr>` and "
                    "`{\"email\", \"name\"}`."
                ),
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
            "html": {
                "type": "string", "minLength": 1, "pattern": CONTENT_PATTERN,
                "description": "The HTML body, sent as given, instead of `content`.",
            },
            "text": {
                "type": "string", "minLength": 1, "pattern": CONTENT_PATTERN,
                "description": "The plain-text body, sent as given, instead of `content`.",
            },
            "tags": _tags_schema(json=json),
            "ignore_suppressions": {
                "type": "boolean" if json else "string",
                **({} if json else {"enum": ["true", "false", ""]}),
                "default": False if json else "false",
                "description": (
                    "Send even to recipients on the project's suppression list (they bounced "
                    "hard, complained or were added by hand; docs/events.md). Without it, such "
                    "a message is refused (400)."
                ),
            },
            **({"attachments": _attachments_schema(), "headers": _headers_schema(),
                "metadata": _metadata_schema()} if json else {}),
        },
        # ``content`` (Markdown), or else ``html`` and/or ``text``: one body, not both.
        "oneOf": [
            {"required": ["content"],
             "not": {"anyOf": [{"required": ["html"]}, {"required": ["text"]}]}},
            {"anyOf": [{"required": ["html"]}, {"required": ["text"]}],
             "not": {"required": ["content"]}},
        ],
        # In a form every field is one piece of text: no list (a repeated field); files come
        # as the parts ``attachments`` and ``inline``, and ``headers`` and ``metadata`` as
        # JSON text, which the schema leaves out.
        **({} if json else {
            "additionalProperties": {"type": "string"},
            "not": {"anyOf": [{"required": [name]} for name in FORM_ONLY_AS_FILES_OR_JSON]},
        }),
        "description": (
            "Other fields are ignored."
            + ("" if json else " Files: multipart parts named `attachments` (inline images: "
               "`inline`, whose filename is their content id); `headers` and `metadata` as "
               "JSON text.")
        ),
    }


def email_request_body() -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of ``POST /email``: one schema per media type it reads."""
    return {
        "required": True,
        "description": (
            "JSON, a URL-encoded form or a multipart form (with files), in UTF-8. A JSON "
            "object with a repeated key, nested too deeply, or a form that is not valid UTF-8 "
            "is refused (400); so is a body with any `Content-Encoding` but `identity` (415)."
        ),
        "content": {
            media_type: {"schema": email_fields_schema(json=media_type == "application/json")}
            for media_type in MEDIA_TYPES
        },
    }


def batch_request_body() -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of ``POST /emails``: JSON only, each item ``POST /email``'s
    JSON body."""
    return {
        "required": True,
        "description": (
            "JSON only: an object whose `emails` list holds 1 to "
            f"{MAX_BATCH_ITEMS} emails, each exactly what `POST /email` takes as JSON. Each is "
            "validated on its own: an invalid item is refused in the results, the others are "
            "stored. The whole body is bounded by `MICROMAILER_MAX_BODY_BYTES`."
        ),
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["emails"],
            "properties": {"emails": {
                "type": "array", "minItems": 1, "maxItems": MAX_BATCH_ITEMS,
                "items": email_fields_schema(json=True),
                "description": "The emails, each as `POST /email`'s JSON body.",
            }},
            "description": "Other fields are ignored.",
        }}},
    }


__all__ = [
    "ADDRESS_PATTERN",
    "CONTENT_PATTERN",
    "MAX_CONTENT_CHARACTERS",
    "MAX_LOCAL_PART_LENGTH",
    "MEDIA_TYPES",
    "NON_BLANK_HEADER_PATTERN",
    "WHITESPACE_CLASS",
    "batch_request_body",
    "email_fields_schema",
    "email_request_body",
]
