"""A form body's fields (urlencoded or multipart), or a 400 saying what is wrong with it.

Names and values must be UTF-8, as browsers send them from a UTF-8 page: a field that is not is
refused by name rather than stored garbled. A field named twice is refused (which value was
meant?), as in JSON. File parts under the file fields' names become attachments, in order; a
file where a text field of the email belongs is refused, one under any other name ignored.
Multipart parts are read with python-multipart, the parser Starlette uses.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import unquote_to_bytes

from python_multipart import FormParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, parse_options_header

from micromailer.api.intake.answer import IntakeRefused
from micromailer.domain.message import Attachment


def decode_urlencoded(body: bytes) -> dict[str, object]:
    """``a=1&b=2``, percent-decoded (``+`` is a space), each name and value as UTF-8."""
    fields: dict[str, object] = {}
    for pair in body.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name = _text(_unquote(raw_name), None)
        _add(fields, name, _text(_unquote(raw_value), name))
    return fields


def decode_multipart(
    content_type: bytes, body: bytes, text_fields: Collection[str],
    file_fields: Mapping[str, bool],
) -> dict[str, object]:
    """The text parts of a ``multipart/form-data`` body by name, and its files as
    ``"attachments"``: a list of :class:`Attachment` (``file_fields`` maps a file field's name
    to whether its files are inline images, whose content id is their filename).

    A file part named in ``text_fields`` is refused: it stands where text belongs.
    """
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise IntakeRefused(
            400, "The multipart Content-Type has no boundary; send the header your HTTP "
                 "client builds for the form."
        )
    fields: dict[str, object] = {}
    files: list[Attachment] = []
    ended = False

    def on_field(field: Field) -> None:
        name = _text(field.field_name or b"", None)
        if name in file_fields:
            raise IntakeRefused.about_field(
                name, f"`{name}` must be a file part of the form, not text."
            )
        _add(fields, name, _text(field.value or b"", name))

    def on_file(file: File) -> None:
        name = _text(file.field_name or b"", None)
        if name in file_fields:
            files.append(_attachment(file, inline=file_fields[name]))
            file.close()
            return
        if name in text_fields:
            shown = (file.file_name or b"").decode("utf-8", "replace") or "unnamed"
            raise IntakeRefused.about_field(
                name, f"`{name}` must be text, not a file upload ({shown})."
            )
        file.close()

    def on_end() -> None:
        nonlocal ended
        ended = True

    parser = FormParser(
        "multipart/form-data", on_field, on_file, on_end, boundary=boundary,
        config={"MAX_MEMORY_FILE_SIZE": len(body) + 1},  # never a temporary file
    )
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise IntakeRefused(
            400, f"The multipart body could not be read ({exc}); check its encoding."
        ) from None
    if not ended:
        raise IntakeRefused(
            400, "The multipart body ends before its closing boundary; send the whole form."
        )
    if files:
        fields["attachments"] = files
    return fields


def _attachment(file: File, *, inline: bool) -> Attachment:
    """A file part as an attachment: its filename, content type and bytes."""
    filename = _text(file.file_name or b"", "attachments").strip() or "attachment"
    file.file_object.seek(0)
    content = file.file_object.read()
    content_type = file.content_type or "application/octet-stream"
    return Attachment(filename, content_type.split(";")[0].strip().lower(), content,
                      filename if inline else None)


def _unquote(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


def _text(raw: bytes, name: str | None) -> str:
    """``raw`` as UTF-8; ``name`` is the field it is the value of, ``None`` for a name."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if name is None:
            raise IntakeRefused(
                400, "A form field's name is not valid UTF-8; send the form encoded as UTF-8."
            ) from None
        raise IntakeRefused.about_field(
            name, f"`{name}` is not valid UTF-8; send the form encoded as UTF-8."
        ) from None


def _add(fields: dict[str, object], name: str, value: str) -> None:
    if name in fields:
        raise IntakeRefused.about_field(
            name, f"The form names `{name}` twice; send each field once."
        )
    fields[name] = value


__all__ = ["decode_multipart", "decode_urlencoded"]
