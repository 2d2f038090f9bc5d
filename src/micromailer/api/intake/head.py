"""What the headers of a ``POST /email`` say about its body.

A body declared over the limit (413), compressed (415) or of a type the intake cannot decode
(415) is refused here, before any of it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from starlette.types import Scope

from micromailer.api.body_limit import CLOSE, declared_too_long, too_large
from micromailer.api.intake.answer import IntakeRefused


class BodyEncoding(StrEnum):
    JSON = "json"
    URLENCODED = "urlencoded"
    MULTIPART = "multipart"


FORM_TYPES = {
    "application/x-www-form-urlencoded": BodyEncoding.URLENCODED,
    "multipart/form-data": BodyEncoding.MULTIPART,
}


@dataclass(frozen=True, slots=True)
class RequestHead:
    encoding: BodyEncoding
    #: The ``Content-Type`` header as sent: a multipart body's boundary is in it.
    content_type: bytes


def read_head(scope: Scope, max_bytes: int) -> RequestHead:
    """The body's encoding; raises :class:`IntakeRefused` when the headers already refuse it."""
    if declared_too_long(scope, max_bytes):
        raise IntakeRefused(413, too_large(max_bytes), headers=CLOSE)
    content_type = content_coding = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is None:  # the first one, as Starlette's ``headers.get`` reads it
                content_type = value
        elif name == b"content-encoding":
            content_coding = value
    if content_coding is not None and content_coding.strip().lower() != b"identity":
        shown = content_coding.decode("latin-1").strip()
        raise IntakeRefused(
            415,
            f"Content-Encoding {shown} is not supported; send the body uncompressed.",
        )
    media_type = (content_type or b"").decode("latin-1").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return RequestHead(BodyEncoding.JSON, content_type or b"")
    if media_type in FORM_TYPES:
        return RequestHead(FORM_TYPES[media_type], content_type or b"")
    raise IntakeRefused(
        415,
        f"Content-Type {media_type or 'none'} is not supported; send application/json, "
        "application/x-www-form-urlencoded or multipart/form-data.",
    )


__all__ = ["FORM_TYPES", "BodyEncoding", "RequestHead", "read_head"]
