"""Characters a mail header field (subject, display names, addresses) must not hold.

One character class serves the validation and the OpenAPI document, so both refuse the same:
control characters (C0, DEL, C1: CR and LF would inject headers), the line and paragraph
separators, the bidirectional controls (``"Invoice \\u202egpj.exe"`` shows as ``exe.jpg``),
and the invisible zero-width space, word joiners and byte-order mark. The zero-width joiner and
non-joiner (U+200C, U+200D) stay allowed: emoji sequences and scripts such as Persian and
Devanagari need them.
"""

from __future__ import annotations

import re

#: The refused characters, as the body of a regular-expression character class. The escapes
#: mean the same in Python's ``re`` and in ECMA-262, which JSON Schema patterns use.
FORBIDDEN_CLASS = (
    r"\u0000-\u001f\u007f-\u009f"  # control characters
    r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional controls
    r"\u200b\u2060-\u2064\ufeff"  # zero-width space, word joiner, invisible operators, BOM
    r"\u2028\u2029"  # line and paragraph separators
)

#: The whitespace a header field may hold (the other spaces are refused characters).
HEADER_SPACES = r"\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"

#: A JSON Schema ``pattern`` that a header field's value matches when it is safe.
HEADER_TEXT_PATTERN = f"^[^{FORBIDDEN_CLASS}]*$"

_FORBIDDEN = re.compile(f"[{FORBIDDEN_CLASS}]")


def first_forbidden(text: str) -> str | None:
    """The first refused character of ``text``, or ``None`` when there is none."""
    match = _FORBIDDEN.search(text)
    return match.group(0) if match else None


def describe(char: str) -> str:
    """A refused character in words, for an error sentence: ``U+202E (a bidirectional control)``."""
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        kind = "a control character"
    elif code in (0x2028, 0x2029):
        kind = "a line separator"
    elif code in (0x200B, 0xFEFF) or 0x2060 <= code <= 0x2064:
        kind = "an invisible character"
    else:
        kind = "a bidirectional control"
    return f"U+{code:04X} ({kind})"


__all__ = ["FORBIDDEN_CLASS", "HEADER_SPACES", "HEADER_TEXT_PATTERN", "describe", "first_forbidden"]
