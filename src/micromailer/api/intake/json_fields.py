"""A JSON body's fields, or a 400 saying what is wrong with it.

The body must be UTF-8 (RFC 8259; a leading byte-order mark is skipped) and one object. Refused
as ambiguous or abusive, each with its own sentence: a key repeated in one object (which value
was meant?), nesting deeper than :data:`MAX_DEPTH`, an integer longer than
:data:`MAX_INTEGER_DIGITS`. The standard library's parser does the work: the duplicate check is
its ``object_pairs_hook``, the length check its ``parse_int``, and the depth is measured on what
it built, so a plain email costs a few dictionary look-ups more than ``json.loads``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from micromailer.api.intake.answer import IntakeRefused

#: Deepest nesting of arrays and objects accepted; an email's fields are strings, at depth 1.
MAX_DEPTH = 32
#: Longest integer literal accepted, in digits; no field of an email is a number.
MAX_INTEGER_DIGITS = 100


class _Refused(Exception):
    """Raised inside the parser's hooks; carries the sentence (and the key) out of ``json``."""

    def __init__(self, sentence: str, key: str | None = None) -> None:
        super().__init__(sentence)
        self.key = key


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    fields = dict(pairs)
    if len(fields) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(
                    f"The JSON body names `{key}` twice in one object; send each field once.",
                    key,
                )
            seen.add(key)
    return fields


def _integer(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise _Refused(
            f"A number in the JSON body is {digits} digits long; numbers may have at most "
            f"{MAX_INTEGER_DIGITS} digits."
        )
    return int(literal)


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_int=_integer)

_CONTAINERS = (dict, list)

TOO_DEEP = (
    f"The JSON body is nested more than {MAX_DEPTH} levels deep; an email's fields are strings."
)


def decode_json(body: bytes) -> dict[str, object]:
    """The object in ``body``; :class:`IntakeRefused` (400) with a sentence otherwise."""
    data = _parse(body)
    if not isinstance(data, dict):
        raise IntakeRefused(
            400, "The JSON body must be an object with `to`, `subject` and `content` fields."
        )
    if _deeper_than(data, MAX_DEPTH):
        raise IntakeRefused(400, TOO_DEEP)
    return data


def decode_json_value(body: bytes) -> object:
    """The JSON value in ``body``, under the same rules; what it must be is the caller's."""
    data = _parse(body)
    if isinstance(data, _CONTAINERS) and _deeper_than(data, MAX_DEPTH):
        raise IntakeRefused(400, TOO_DEEP)
    return data


def _parse(body: bytes) -> object:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntakeRefused(
            400,
            f"The body is not valid UTF-8 (byte 0x{body[exc.start]:02x} at position "
            f"{exc.start}); send JSON encoded as UTF-8.",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = _DECODER.decode(text)
    except _Refused as exc:
        if exc.key is None:
            raise IntakeRefused(400, str(exc)) from None
        raise IntakeRefused.about_field(exc.key, str(exc)) from None
    except RecursionError:
        raise IntakeRefused(400, TOO_DEEP) from None
    except json.JSONDecodeError as exc:
        raise IntakeRefused(
            400, f"The body is not valid JSON ({exc}); send a JSON object."
        ) from None
    return data


def _deeper_than(data: dict[str, object] | list[object], limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels, ``data`` being level 1."""
    level = 1
    values: Iterable[object] = data.values() if isinstance(data, dict) else data
    while containers := [value for value in values if isinstance(value, _CONTAINERS)]:
        level += 1
        if level > limit:
            return True
        inner: list[object] = []
        for container in containers:
            inner.extend(container.values() if isinstance(container, dict) else container)
        values = inner
    return False


__all__ = ["MAX_DEPTH", "MAX_INTEGER_DIGITS", "TOO_DEEP", "decode_json", "decode_json_value"]
