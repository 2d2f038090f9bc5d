"""Validation of a ``POST /email`` request, independent of the web framework.

The rules live on :class:`EmailRequest` itself, so the model refuses bad values however it is
built; :func:`parse_email_request` turns pydantic's errors into :class:`InvalidEmailRequest`,
whose ``message`` is one sentence a person can act on and whose ``details`` list every problem.
Addresses follow ``domain/addresses.py``, attachments, headers, tags and metadata
``domain/message_fields.py``; every header field holds none of the characters ``header_text``
forbids, which the OpenAPI document's patterns share. docs/api.md lists every rule. The
message's size and recipient count are checked once it is rendered, with the providers'
limits (``delivery/carriage.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from typing import Any, TypedDict

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from micromailer.domain.addresses import (
    MAX_ADDRESS_LENGTH,
    MAX_NAME_LENGTH,
    display_name,
    parse_address_list,
    parse_one_address,
)
from micromailer.domain.field_rules import ERROR_TYPE, header_text, problem, text_value
from micromailer.domain.message import Address, Attachment
from micromailer.domain.message_fields import (
    parse_attachments,
    parse_headers,
    parse_metadata,
    parse_tags,
)

MAX_TO_LENGTH = MAX_ADDRESS_LENGTH
MAX_TO_NAME_LENGTH = MAX_NAME_LENGTH
MAX_SUBJECT_LENGTH = 998
MAX_CONTENT_BYTES = 512 * 1024
#: Longest ``metadata`` or ``headers`` given as JSON text in a form, in characters.
MAX_FORM_JSON_LENGTH = 64 * 1024

#: The validation context's key: domains a request's ``from`` may use (``None``: any).
SENDER_DOMAINS = "sender_domains"


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


def _absent(value: object) -> bool:
    """An optional field left out, ``null`` or blank: a form sends every field, filled or not."""
    return value is None or (isinstance(value, str) and not value.strip())


class EmailRequest(BaseModel):
    """A valid request to send one email; build it with :func:`parse_email_request`."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    to: tuple[Address, ...] = Field(description="Recipients.")
    to_name: str | None = Field(default=None, description="The first recipient's name.")
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    sender: Address | None = Field(default=None, alias="from")
    subject: str = Field(description="Subject line.")
    # ``html`` and ``text`` come before ``content``, whose rule needs them.
    html: str | None = None
    text: str | None = None
    content: str | None = Field(default=None, description="Body, in Markdown.",
                                validate_default=True)
    attachments: tuple[Attachment, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    #: Send even to addresses on the project's suppression list.
    ignore_suppressions: bool = False

    @field_validator("to", mode="plain")
    @classmethod
    def _check_to(cls, value: object) -> tuple[Address, ...]:
        if value is None or value == []:
            raise problem("`to` is required.")
        if isinstance(value, str) and not value.strip():
            raise problem("`to` must not be empty.")
        return parse_address_list("to", value)

    @field_validator("cc", "bcc", "reply_to", mode="plain")
    @classmethod
    def _check_address_list(cls, value: object, info: ValidationInfo) -> tuple[Address, ...]:
        return () if _absent(value) else parse_address_list(str(info.field_name), value)

    @field_validator("sender", mode="plain")
    @classmethod
    def _check_sender(cls, value: object, info: ValidationInfo) -> Address | None:
        if _absent(value):
            return None
        sender = parse_one_address("from", value)
        allowed: Collection[str] | None = (info.context or {}).get(SENDER_DOMAINS)
        domain = sender.email.rpartition("@")[2].lower()
        if allowed is not None and domain not in allowed:
            raise problem(
                f"`from` must be an address of {', '.join(sorted(allowed))} "
                "(MICROMAILER_SENDER_DOMAINS); micromailer does not send as other domains."
            )
        return sender

    @field_validator("to_name", mode="plain")
    @classmethod
    def _check_to_name(cls, value: object) -> str | None:
        return display_name("to_name", value)

    @field_validator("subject", mode="plain")
    @classmethod
    def _check_subject(cls, value: object) -> str:
        return header_text("subject", value, MAX_SUBJECT_LENGTH)

    @field_validator("content", mode="plain")
    @classmethod
    def _check_content(cls, value: object, info: ValidationInfo) -> str | None:
        given = [name for name in ("html", "text") if info.data.get(name) is not None]
        if value is None:
            if given or "html" not in info.data or "text" not in info.data:
                return None  # a body of its own, or a refused one already reported
            raise problem("`content` is required.")
        if given:
            raise problem(
                "Give either `content` (Markdown, rendered to HTML and text) or `html` and/or "
                "`text`, not both."
            )
        text = _body_text("content", value)
        size = len(text.encode("utf-8"))
        if size > MAX_CONTENT_BYTES:
            raise problem(
                f"`content` must be at most {MAX_CONTENT_BYTES // 1024} KiB once encoded as "
                f"UTF-8; it is {size} bytes."
            )
        return text

    @field_validator("html", "text", mode="plain")
    @classmethod
    def _check_part(cls, value: object, info: ValidationInfo) -> str | None:
        return None if _absent(value) else _body_text(str(info.field_name), value)

    @field_validator("attachments", mode="plain")
    @classmethod
    def _check_attachments(cls, value: object) -> tuple[Attachment, ...]:
        return () if _absent(value) else parse_attachments(value)

    @field_validator("headers", mode="plain")
    @classmethod
    def _check_headers(cls, value: object) -> tuple[tuple[str, str], ...]:
        return () if _absent(value) else parse_headers(_form_json("headers", value))

    @field_validator("tags", mode="plain")
    @classmethod
    def _check_tags(cls, value: object) -> tuple[str, ...]:
        return () if _absent(value) else parse_tags(value)

    @field_validator("metadata", mode="plain")
    @classmethod
    def _check_metadata(cls, value: object) -> tuple[tuple[str, str], ...]:
        return () if _absent(value) else parse_metadata(_form_json("metadata", value))

    @field_validator("ignore_suppressions", mode="plain")
    @classmethod
    def _check_ignore_suppressions(cls, value: object) -> bool:
        if _absent(value):
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise problem("`ignore_suppressions` must be true or false.")

    @model_validator(mode="after")
    def _name_the_first_recipient(self) -> EmailRequest:
        first = self.to[0]
        if self.to_name and first.name is None:
            # ``to_name`` names the first recipient unless its address carries a name.
            object.__setattr__(self, "to", (Address(first.email, self.to_name), *self.to[1:]))
        return self

    def canonical(self) -> dict[str, Any]:
        """The request as JSON-ready data, the same whatever encoding it came in (an
        attachment by its size and SHA-256): what an ``Idempotency-Key`` fingerprints."""
        return {
            "to": [item.to_json() for item in self.to],
            "cc": [item.to_json() for item in self.cc],
            "bcc": [item.to_json() for item in self.bcc],
            "reply_to": [item.to_json() for item in self.reply_to],
            "from": self.sender.to_json() if self.sender else None,
            "subject": self.subject, "content": self.content, "html": self.html,
            "text": self.text,
            "attachments": [
                [item.filename, item.content_type, item.content_id, item.size,
                 hashlib.sha256(item.content).hexdigest()]
                for item in self.attachments
            ],
            "headers": self.headers, "tags": self.tags, "metadata": self.metadata,
            "ignore_suppressions": self.ignore_suppressions,
        }

    @property
    def plain(self) -> bool:
        """One recipient, Markdown content and nothing else: the common, cheapest case."""
        return (
            len(self.to) == 1 and not (self.cc or self.bcc or self.reply_to or self.attachments
                                       or self.headers or self.tags or self.metadata)
            and self.content is not None
        )


def parse_email_request(
    data: Mapping[str, object], sender_domains: Collection[str] | None = None
) -> EmailRequest:
    """Validate a decoded request body (JSON object or form fields); ``from`` must be of one
    of ``sender_domains`` (``None``: any domain).

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
        return EmailRequest.model_validate(
            dict(data), context={SENDER_DOMAINS: sender_domains}
        )
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


def _detail(error: ErrorDetails) -> ProblemDetail:
    """Turn one pydantic error into a detail whose message names the field."""
    loc = error["loc"]
    field = str(loc[0]) if loc else "body"
    kind = error["type"]
    if field == "sender":
        field = "from"
    if kind == ERROR_TYPE and "ctx" in error:
        message = str(error["ctx"]["message"])
    elif kind == "missing":
        message = f"`{field}` is required."
    else:  # not produced by our rules; kept readable all the same
        message = f"`{field}` is invalid: {error['msg'].rstrip('.')}."
    return ProblemDetail(field=field, message=message)


def _body_text(field: str, value: object) -> str:
    text = text_value(field, value)
    if not text.strip():
        raise problem(f"`{field}` must not be empty.")
    if "\x00" in text:
        raise problem(f"`{field}` must not contain NUL characters.")
    return text


def _form_json(field: str, value: object) -> object:
    """An object field as JSON text (how a form sends it), decoded; other values as given."""
    if not isinstance(value, str):
        return value
    if len(value) > MAX_FORM_JSON_LENGTH:
        raise problem(f"`{field}` must be at most {MAX_FORM_JSON_LENGTH} characters of JSON.")
    try:
        return json.loads(value)
    except ValueError:
        raise problem(f"`{field}` must be a JSON object (in a form, as JSON text).") from None


__all__ = [
    "ERROR_TYPE",
    "MAX_CONTENT_BYTES",
    "MAX_SUBJECT_LENGTH",
    "MAX_TO_LENGTH",
    "MAX_TO_NAME_LENGTH",
    "SENDER_DOMAINS",
    "EmailRequest",
    "InvalidEmailRequest",
    "ProblemDetail",
    "parse_email_request",
    "summarize",
]
