"""The optional parts of a request beside its addresses: attachments, headers, tags, metadata.

Each has a bounded size and a character rule that every provider accepts, so that a message
valid here is valid wherever it goes. Custom headers come from a safe list: a request may add
``X-`` headers and the list and threading headers below, never one that addresses, routes or
authenticates the message.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping, Sequence

from micromailer.domain.field_rules import check_header_line, header_text, kind, problem
from micromailer.domain.header_text import FORBIDDEN_CLASS, HEADER_SPACES
from micromailer.domain.message import Attachment

MAX_ATTACHMENTS = 50
MAX_FILENAME_LENGTH = 255
MAX_HEADERS = 30
MAX_HEADER_VALUE_LENGTH = 998
MAX_TAGS = 10
MAX_TAG_LENGTH = 50
MAX_METADATA_KEYS = 20
MAX_METADATA_KEY_LENGTH = 40
#: With :data:`MAX_METADATA_KEYS` keys, metadata stays under 10 kB, SendGrid's and
#: SparkPost's bound.
MAX_METADATA_VALUE_LENGTH = 100

#: Headers a request may set besides any ``X-…`` one (case-insensitive).
SAFE_HEADERS = frozenset({
    "list-unsubscribe", "list-unsubscribe-post", "list-id", "list-help", "list-archive",
    "in-reply-to", "references", "precedence", "auto-submitted", "importance", "priority",
})
#: What follows ``X-`` in headers that are not the sender's to set: providers' own and spam
#: filters' verdicts (``$``: the whole name).
RESERVED_X_PREFIXES = ("sg-", "mc-", "mailgun-", "pm-", "ses-", "msys-", "mailin-", "spam",
                       "mailer$")
_RESERVED_X = re.compile("x-(?:" + "|".join(RESERVED_X_PREFIXES) + ")", re.IGNORECASE)
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,75}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_METADATA_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_MEDIA_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}"
#: A media type, ``type/subtype`` (the OpenAPI document uses the same patterns).
CONTENT_TYPE_PATTERN = f"{_MEDIA_TOKEN}/{_MEDIA_TOKEN}"
CONTENT_ID_PATTERN = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,200}"
#: A file name: no path, no refused character, not starting with a space.
FILENAME_PATTERN = (
    rf"^(?!\.{{1,2}}$)[^{FORBIDDEN_CLASS}{HEADER_SPACES}/\\][^{FORBIDDEN_CLASS}/\\]*$"
)
_CONTENT_TYPE = re.compile(CONTENT_TYPE_PATTERN)
_CONTENT_ID = re.compile(CONTENT_ID_PATTERN)
#: Metadata keys micromailer sets itself.
RESERVED_METADATA_KEYS = frozenset({"email_id"})


def parse_attachments(value: object) -> tuple[Attachment, ...]:
    """``[{"filename", "contentType", "content" (base64, or bytes from a multipart file),
    "contentId"?}]``."""
    items = _list("attachments", value)
    if len(items) > MAX_ATTACHMENTS:
        raise problem(
            f"`attachments` may hold at most {MAX_ATTACHMENTS} files; it has {len(items)}."
        )
    attachments = tuple(_attachment(f"attachments[{index}]", item)
                        for index, item in enumerate(items))
    return attachments


def parse_headers(value: object) -> tuple[tuple[str, str], ...]:
    """``{"X-Campaign": "spring"}``: names from the safe list, one-line values."""
    if not isinstance(value, Mapping):
        raise problem(f"`headers` must be an object of header names and values, not {kind(value)}.")
    if len(value) > MAX_HEADERS:
        raise problem(f"`headers` may hold at most {MAX_HEADERS} headers; it has {len(value)}.")
    headers: list[tuple[str, str]] = []
    for name, raw in value.items():
        if not isinstance(name, str) or _HEADER_NAME.fullmatch(name) is None:
            raise problem(
                f"`headers` has the name {str(name)[:80]!r}; a header name is letters, digits "
                "and hyphens, starting with a letter."
            )
        lowered = name.lower()
        if not _allowed_header(lowered):
            raise problem(
                f"`headers` may not set {name}: only X- headers and "
                "List-Unsubscribe, List-Id, In-Reply-To, References and the like may be set, "
                "never one that addresses, routes or signs the message."
            )
        headers.append((name, header_text(f"headers.{name}", raw, MAX_HEADER_VALUE_LENGTH)))
    return tuple(headers)


def parse_tags(value: object) -> tuple[str, ...]:
    """Up to :data:`MAX_TAGS` short tags of letters, digits, ``_`` and ``-`` (what every
    provider that takes tags accepts); a string may list them separated by commas."""
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else _list(
        "tags", value)
    tags: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise problem(f"`tags[{index}]` must be a string, not {kind(item)}.")
        if not item:
            continue
        if len(item) > MAX_TAG_LENGTH or _TAG.fullmatch(item) is None:
            raise problem(
                f"`tags` has {item[:80]!r}; a tag is 1 to {MAX_TAG_LENGTH} ASCII letters, "
                "digits, `_` and `-`, starting with a letter or digit."
            )
        if item not in tags:
            tags.append(item)
    if len(tags) > MAX_TAGS:
        raise problem(f"`tags` may hold at most {MAX_TAGS} tags; it has {len(tags)}.")
    return tuple(tags)


def parse_metadata(value: object) -> tuple[tuple[str, str], ...]:
    """``{"order": "42"}``: short keys and short string values; providers echo them in their
    events."""
    if not isinstance(value, Mapping):
        raise problem(f"`metadata` must be an object of keys and string values, not {kind(value)}.")
    if len(value) > MAX_METADATA_KEYS:
        raise problem(
            f"`metadata` may hold at most {MAX_METADATA_KEYS} keys; it has {len(value)}."
        )
    pairs: list[tuple[str, str]] = []
    for key, raw in value.items():
        if (not isinstance(key, str) or len(key) > MAX_METADATA_KEY_LENGTH
                or _METADATA_KEY.fullmatch(key) is None):
            raise problem(
                f"`metadata` has the key {str(key)[:80]!r}; a key is 1 to "
                f"{MAX_METADATA_KEY_LENGTH} ASCII letters, digits, `_` and `-`, starting with "
                "a letter."
            )
        if key.lower() in RESERVED_METADATA_KEYS:
            raise problem(f"`metadata` may not set {key}: micromailer sets it itself.")
        if not isinstance(raw, str):
            raise problem(f"`metadata.{key}` must be a string, not {kind(raw)}.")
        check_header_line(f"metadata.{key}", raw, MAX_METADATA_VALUE_LENGTH)
        pairs.append((key, raw))
    return tuple(pairs)


def _allowed_header(lowered: str) -> bool:
    if lowered in SAFE_HEADERS:
        return True
    return lowered.startswith("x-") and _RESERVED_X.match(lowered) is None


def _list(field: str, value: object) -> Sequence[object]:
    if not isinstance(value, list | tuple):
        raise problem(f"`{field}` must be a list, not {kind(value)}.")
    return value


def _attachment(field: str, item: object) -> Attachment:
    if isinstance(item, Attachment):  # a multipart file, read by the intake
        check_header_line(f"{field}.filename", item.filename, MAX_FILENAME_LENGTH)
        _check_filename(field, item.filename)
        if _CONTENT_TYPE.fullmatch(item.content_type) is None:
            raise problem(f"`{field}` has the content type {item.content_type[:80]!r}, which is "
                          "not a media type such as application/pdf.")
        return item
    if not isinstance(item, Mapping):
        raise problem(
            f'`{field}` must be an object {{"filename", "contentType", "content"}}, '
            f"not {kind(item)}."
        )
    unknown = sorted(str(key) for key in item
                     if key not in ("filename", "contentType", "content", "contentId"))
    if unknown:
        raise problem(
            f"`{field}` may only have filename, contentType, content and contentId; it also "
            f"has {', '.join(unknown)}."
        )
    filename = header_text(f"{field}.filename", item.get("filename"), MAX_FILENAME_LENGTH)
    _check_filename(field, filename)
    content_type = header_text(f"{field}.contentType", item.get("contentType"), 128)
    if _CONTENT_TYPE.fullmatch(content_type) is None:
        raise problem(
            f"`{field}.contentType` must be a media type such as application/pdf or image/png."
        )
    raw = item.get("content")
    if not isinstance(raw, str):
        raise problem(f"`{field}.content` must be the file's bytes in base64, not {kind(raw)}.")
    try:
        content = binascii.a2b_base64(raw.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise problem(
            f"`{field}.content` is not valid base64; send the file's bytes base64-encoded "
            "(RFC 4648, with padding, no line breaks)."
        ) from None
    content_id = item.get("contentId")
    if content_id is not None and (
        not isinstance(content_id, str) or _CONTENT_ID.fullmatch(content_id) is None
    ):
        raise problem(
            f"`{field}.contentId` must be 1 to 200 characters without spaces or angle "
            "brackets; the HTML refers to the image as cid:<contentId>."
        )
    return Attachment(filename, content_type.lower(), content, content_id)


def _check_filename(field: str, filename: str) -> None:
    if "/" in filename or "\\" in filename or filename in (".", ".."):
        raise problem(f"`{field}.filename` must be a file name, not a path: {filename[:80]!r}.")


__all__ = [
    "CONTENT_ID_PATTERN",
    "CONTENT_TYPE_PATTERN",
    "FILENAME_PATTERN",
    "MAX_ATTACHMENTS",
    "MAX_FILENAME_LENGTH",
    "MAX_HEADERS",
    "MAX_HEADER_VALUE_LENGTH",
    "MAX_METADATA_KEYS",
    "MAX_METADATA_KEY_LENGTH",
    "MAX_METADATA_VALUE_LENGTH",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "RESERVED_METADATA_KEYS",
    "RESERVED_X_PREFIXES",
    "SAFE_HEADERS",
    "parse_attachments",
    "parse_headers",
    "parse_metadata",
    "parse_tags",
]
