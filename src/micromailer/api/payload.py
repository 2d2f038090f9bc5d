"""Read a ``POST /email`` body as JSON, urlencoded form or multipart form."""

from __future__ import annotations

import json

from fastapi import Request
from starlette.datastructures import UploadFile

from micromailer.api.errors import ApiError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_payload(request: Request) -> dict[str, object]:
    """The body's fields; an :class:`ApiError` (400/415) with a sentence if unreadable."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return await _read_json(request)
    if media_type in FORM_TYPES:
        return await _read_form(request)
    shown = media_type or "none"
    raise ApiError(
        415,
        f"Content-Type {shown} is not supported; send application/json, "
        "application/x-www-form-urlencoded or multipart/form-data.",
    )


async def _read_json(request: Request) -> dict[str, object]:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The body is not valid JSON ({exc}); send a JSON object.") from exc
    if not isinstance(data, dict):
        raise ApiError(
            400, "The JSON body must be an object with `to`, `subject` and `content` fields."
        )
    return data


async def _read_form(request: Request) -> dict[str, object]:
    try:
        form = await request.form()
    except Exception as exc:  # starlette raises several kinds for a malformed body
        if getattr(exc, "status_code", None) == 413:
            raise
        raise ApiError(400, f"The form body could not be read ({exc}); check its encoding.") \
            from exc
    fields: dict[str, object] = {}
    for key, value in form.multi_items():
        if key in fields:
            continue  # the first value of a repeated field wins
        fields[key] = value if not isinstance(value, UploadFile) else _FileField(value.filename)
    return fields


class _FileField:
    """A file part where a text field was expected; validation names it as such."""

    def __init__(self, filename: str | None) -> None:
        self.filename = filename

    def __repr__(self) -> str:
        return f"a file upload ({self.filename or 'unnamed'})"


__all__ = ["read_payload"]
