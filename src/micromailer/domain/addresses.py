"""Address fields of a request (``to``, ``cc``, ``bcc``, ``reply_to``, ``from``), parsed.

Each takes one address or a list; an address is ``jane@example.com``, ``Jane Doe
<jane@example.com>``, or ``{"email", "name"}``, and a string may list several, separated by
commas as in a mail header (``"Doe, Jane" <jane@example.com>, bob@example.com``). Splitting is
one pass over the string; every address is checked by email-validator (no DNS look-up) and
stored normalised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email

from micromailer.domain.field_rules import check_header_line, kind, problem, text_value
from micromailer.domain.message import Address
from micromailer.domain.simulator import is_simulator_address

MAX_ADDRESS_LENGTH = 254
MAX_NAME_LENGTH = 200
#: Longest address field accepted as one string, in characters: a thousand addresses.
MAX_FIELD_LENGTH = 1000 * (MAX_ADDRESS_LENGTH + MAX_NAME_LENGTH + 8)


def parse_address_list(field: str, value: object) -> tuple[Address, ...]:
    """Every address ``value`` holds (a string, an object, or a list of them), in order."""
    if isinstance(value, str | Mapping):
        items: Sequence[object] = [value]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise problem(
            f"`{field}` must be an address, a list of addresses or an object "
            f'{{"email", "name"}}, not {kind(value)}.'
        )
    addresses: list[Address] = []
    for index, item in enumerate(items):
        where = field if len(items) == 1 else f"{field}[{index}]"
        if isinstance(item, Mapping):
            addresses.append(_address_object(where, item))
        else:
            text = text_value(where, item)
            if len(text) > MAX_FIELD_LENGTH:
                raise problem(
                    f"`{where}` must be at most {MAX_FIELD_LENGTH} characters long; it has "
                    f"{len(text)}."
                )
            addresses.extend(_address_text(where, part) for part in split_addresses(text))
    return tuple(addresses)


def parse_one_address(field: str, value: object) -> Address:
    """Exactly one address (``from``)."""
    addresses = parse_address_list(field, value)
    if len(addresses) != 1:
        raise problem(f"`{field}` must be one address; it holds {len(addresses)}.")
    return addresses[0]


def split_addresses(text: str) -> list[str]:
    """``text`` cut at the commas that separate addresses: not those inside a quoted name or
    angle brackets. Blank pieces are dropped."""
    if "," not in text:  # one address, nearly always: no pass over its characters
        return [text.strip()] if text.strip() else []
    pieces: list[str] = []
    start = 0
    quoted = angled = escaped = False
    for position, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"' and not angled:
            quoted = not quoted
        elif char == "<" and not quoted:
            angled = True
        elif char == ">" and not quoted:
            angled = False
        elif char == "," and not quoted and not angled:
            pieces.append(text[start:position])
            start = position + 1
    pieces.append(text[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def normalized_address(field: str, text: str) -> str:
    """A bare address, checked and normalised (the simulator's reserved recipients and no
    other name under a special-use domain)."""
    check_header_line(field, text, MAX_ADDRESS_LENGTH)
    try:
        validated = validate_email(
            text, check_deliverability=False, allow_display_name=False, strict=True,
            test_environment=is_simulator_address(text),
        )
    except EmailNotValidError as exc:
        raise problem(f"`{field}` must be a valid email address: {exc}") from None
    return validated.normalized


def display_name(field: str, value: object) -> str | None:
    """A display name, stripped; ``None`` when absent or blank."""
    if value is None:
        return None
    text = text_value(field, value).strip()
    if not text:
        return None
    check_header_line(field, text, MAX_NAME_LENGTH)
    return text


def _address_text(field: str, text: str) -> Address:
    if "<" not in text and ">" not in text:
        return Address(normalized_address(field, text))
    name, email = parseaddr(text)
    if not email or text.count("<") != 1 or not text.rstrip().endswith(">"):
        raise problem(
            f"`{field}` must hold addresses such as jane@example.com or "
            f"Jane Doe <jane@example.com>; {text[:80]!r} is neither."
        )
    return Address(normalized_address(field, email), display_name(f"{field} name", name))


def _address_object(field: str, item: Mapping[object, object]) -> Address:
    unknown = sorted(str(key) for key in item if key not in ("email", "name"))
    if unknown:
        raise problem(
            f"`{field}` may only have `email` and `name`; it also has {', '.join(unknown)}."
        )
    email = text_value(f"{field}.email", item.get("email")).strip()
    return Address(
        normalized_address(f"{field}.email", email), display_name(f"{field}.name", item.get("name"))
    )


__all__ = [
    "MAX_ADDRESS_LENGTH",
    "MAX_FIELD_LENGTH",
    "MAX_NAME_LENGTH",
    "display_name",
    "normalized_address",
    "parse_address_list",
    "parse_one_address",
    "split_addresses",
]
