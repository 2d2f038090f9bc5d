"""Tests of micromailer.domain.validation: what a POST /email body must hold, and what it says."""

from __future__ import annotations

import re
from types import MappingProxyType

import pytest
from pydantic import ValidationError

from micromailer.domain.header_text import HEADER_TEXT_PATTERN
from micromailer.domain.message import Address
from micromailer.domain.validation import (
    MAX_CONTENT_BYTES,
    EmailRequest,
    InvalidEmailRequest,
    parse_email_request,
)

# A 254-character address email-validator accepts: 64-char local part, 189-char domain.
LONGEST_ADDRESS = "a" * 64 + "@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 57 + ".com"


def body(**overrides: object) -> dict[str, object]:
    """A valid JSON-like body, with some fields replaced; a value of ``...`` removes the field."""
    data: dict[str, object] = {
        "to": "jane@example.com",
        "to_name": "Jane Doe",
        "subject": "Your receipt",
        "content": "# Thanks\n\nYour order is on its way.",
    }
    for key, value in overrides.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def problems(data: dict[str, object]) -> InvalidEmailRequest:
    with pytest.raises(InvalidEmailRequest) as info:
        parse_email_request(data)
    return info.value


def only_problem(data: dict[str, object]) -> str:
    """The message of the single problem ``data`` has; fails if there are more."""
    error = problems(data)
    assert len(error.details) == 1, error.details
    assert error.message == error.details[0]["message"]
    return error.message


# -- valid requests ----------------------------------------------------------------------


def test_a_complete_request_is_accepted_as_given() -> None:
    request = parse_email_request(body())
    assert request == EmailRequest(
        to="jane@example.com",
        to_name="Jane Doe",
        subject="Your receipt",
        content="# Thanks\n\nYour order is on its way.",
    )
    assert request.to == (Address("jane@example.com", "Jane Doe"),)


def test_to_name_may_be_absent_null_or_blank_and_then_is_none() -> None:
    assert parse_email_request(body(to_name=...)).to_name is None
    assert parse_email_request(body(to_name=None)).to_name is None
    assert parse_email_request(body(to_name="   ")).to_name is None
    assert parse_email_request(body(to_name="")).to_name is None


def test_address_is_kept_in_normalized_form_with_domain_lowercased() -> None:
    request = parse_email_request(body(to="  Jane.Doe@EXAMPLE.Com "))
    assert request.to[0].email == "Jane.Doe@example.com"


def test_internationalized_domain_is_accepted() -> None:
    assert parse_email_request(body(to="jane@bücher.de")).to[0].email == "jane@bücher.de"


def test_header_fields_are_stripped_but_content_is_kept_verbatim() -> None:
    content = "    indented code\r\n\r\nand a line  \n"
    request = parse_email_request(body(to_name="  Jane  ", subject="  Hello  ", content=content))
    assert request.to_name == "Jane"
    assert request.subject == "Hello"
    assert request.content == content


def test_unknown_fields_are_ignored() -> None:
    request = parse_email_request(body(priority=1, campaign="spring"))
    assert not hasattr(request, "priority")
    assert "campaign" not in request.canonical()


def test_any_mapping_is_accepted_not_only_dict() -> None:
    assert parse_email_request(MappingProxyType(body())).to[0].email == "jane@example.com"


def test_values_at_the_length_limits_are_accepted() -> None:
    request = parse_email_request(
        body(
            to=LONGEST_ADDRESS,
            to_name="n" * 200,
            subject="s" * 998,
            content="c" * MAX_CONTENT_BYTES,
        )
    )
    assert len(request.to[0].email) == 254
    assert len(request.subject) == 998


def test_content_may_span_many_lines() -> None:
    content = "line one\r\nline two\n\n- item\n"
    assert parse_email_request(body(content=content)).content == content


# -- missing and empty -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["to", "subject", "content"])
def test_a_missing_required_field_is_named(field: str) -> None:
    assert only_problem(body(**{field: ...})) == f"`{field}` is required."


@pytest.mark.parametrize("field", ["to", "subject", "content"])
def test_a_null_required_field_counts_as_missing(field: str) -> None:
    assert only_problem(body(**{field: None})) == f"`{field}` is required."


@pytest.mark.parametrize("field", ["to", "subject", "content"])
@pytest.mark.parametrize("blank", ["", "   ", "\n\t \n"])
def test_a_blank_required_field_is_refused(field: str, blank: str) -> None:
    error = problems(body(**{field: blank}))
    assert error.details[0]["field"] == field
    if blank == "" or field == "content":
        assert error.message == f"`{field}` must not be empty."


def test_an_empty_body_lists_all_three_required_fields_in_order() -> None:
    error = problems({})
    assert error.details == [
        {"field": "to", "message": "`to` is required."},
        {"field": "subject", "message": "`subject` is required."},
        {"field": "content", "message": "`content` is required."},
    ]
    assert error.message == "`to` is required (and 2 more problems)."


# -- bad addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "jane",
        "jane@example",
        "jane@@example.com",
        "jane doe@example.com",
        "@example.com",
        "jane@",
        "jane@.com",
        "jane@[127.0.0.1]",
    ],
)
def test_a_malformed_address_is_refused_with_email_validator_reason(address: str) -> None:
    message = only_problem(body(to=address))
    assert message.startswith("`to` must be a valid email address: ")
    assert len(message) > len("`to` must be a valid email address: ") + 10


def test_the_reason_for_a_domain_without_dot_is_spelled_out() -> None:
    assert only_problem(body(to="jane@example")) == (
        "`to` must be a valid email address: "
        "The part after the @-sign is not valid. It should have a period."
    )


@pytest.mark.parametrize("address", ["jane@example.test", "jane@example.localhost"])
def test_special_use_domains_are_refused_for_real_recipients(address: str) -> None:
    assert only_problem(body(to=address)).startswith("`to` must be a valid email address: ")


@pytest.mark.parametrize(
    ("address", "name"),
    [("Jane Doe <jane@example.com>", "Jane Doe"), ("<jane@example.com>", None),
     ('"Jane" <jane@example.com>', "Jane")],
)
def test_a_display_name_in_to_names_the_recipient(address: str, name: str | None) -> None:
    request = parse_email_request(body(to=address, to_name=None))
    assert request.to == (Address("jane@example.com", name),)


def test_an_address_longer_than_254_characters_is_refused_with_its_length() -> None:
    assert only_problem(body(to="a" + LONGEST_ADDRESS)) == (
        "`to` must be at most 254 characters long; it has 255."
    )


# -- header injection --------------------------------------------------------------------


@pytest.mark.parametrize("field", ["to", "to_name", "subject"])
@pytest.mark.parametrize(
    ("value", "described"),
    [
        ("Hi\r\nBcc: victim@example.com", "U+000D (a control character)"),
        ("Hi\nBcc: victim@example.com", "U+000A (a control character)"),
        ("Hi\rBcc: victim@example.com", "U+000D (a control character)"),
        ("Hi\x00there", "U+0000 (a control character)"),
        ("Hi\tthere", "U+0009 (a control character)"),
        ("Hi\x85there", "U+0085 (a control character)"),
        ("Hi\u2028there", "U+2028 (a line separator)"),
    ],
)
def test_control_characters_in_header_fields_are_refused_as_injection(
    field: str, value: str, described: str
) -> None:
    if field == "to":
        value = value.replace("Hi", "jane@example.com", 1)
    error = problems(body(**{field: value}))
    assert error.details == [
        {
            "field": field,
            "message": f"`{field}` must not contain {described}; it goes into a mail header, "
            "which must be one line of visible text.",
        }
    ]


@pytest.mark.parametrize("field", ["to_name", "subject"])
@pytest.mark.parametrize(
    ("char", "described"),
    [
        ("\u202e", "U+202E (a bidirectional control)"),
        ("\u202a", "U+202A (a bidirectional control)"),
        ("\u2066", "U+2066 (a bidirectional control)"),
        ("\u2067", "U+2067 (a bidirectional control)"),
        ("\u2068", "U+2068 (a bidirectional control)"),
        ("\u2069", "U+2069 (a bidirectional control)"),
        ("\u200f", "U+200F (a bidirectional control)"),
        ("\u200b", "U+200B (an invisible character)"),
        ("\u2060", "U+2060 (an invisible character)"),
        ("\ufeff", "U+FEFF (an invisible character)"),
    ],
)
def test_bidi_controls_and_invisible_characters_in_header_fields_are_refused(
    field: str, char: str, described: str
) -> None:
    """``"Invoice \u202egpj.exe"`` shows as "Invoice exe.jpg"; a BOM or zero-width space
    hides in plain sight."""
    for value in (f"Invoice {char}gpj.exe", f"{char}Invoice"):
        assert only_problem(body(**{field: value})) == (
            f"`{field}` must not contain {described}; it goes into a mail header, "
            "which must be one line of visible text."
        )


def test_a_bidi_control_in_the_address_is_refused() -> None:
    assert only_problem(body(to="jane\u202e@example.com")).startswith(
        "`to` must not contain U+202E (a bidirectional control)"
    )


def test_header_fields_refuse_exactly_the_characters_of_the_schema_pattern() -> None:
    """Validation and the OpenAPI pattern (``HEADER_TEXT_PATTERN``) refuse the same set."""
    pattern = re.compile(HEADER_TEXT_PATTERN)
    for code in [*range(0x0000, 0x0100), *range(0x2000, 0x2070), 0x061C, 0xFEFF, 0xFFFD]:
        char = chr(code)
        value = f"a{char}b"
        allowed_by_schema = pattern.match(value) is not None
        try:
            parse_email_request(body(subject=value))
            allowed = True
        except InvalidEmailRequest:
            allowed = False
        assert allowed is allowed_by_schema, f"U+{code:04X}"


def test_unprintable_but_harmless_characters_in_header_fields_are_kept() -> None:
    """A no-break space, and the zero-width joiner that emoji sequences and scripts need."""
    request = parse_email_request(
        body(subject="Order\u00a0#42 ready \U0001f469\u200d\U0001f4bb", to_name="Zoë")
    )
    assert request.subject == "Order\u00a0#42 ready \U0001f469\u200d\U0001f4bb"


def test_a_local_part_longer_than_64_characters_is_refused() -> None:
    """RFC 5321 allows 64 characters before the @."""
    assert parse_email_request(body(to="a" * 64 + "@example.com")).to[0].email == (
        "a" * 64 + "@example.com"
    )
    assert only_problem(body(to="a" * 65 + "@example.com")) == (
        "`to` must be a valid email address: The email address is too long before the @-sign "
        "(1 character too many)."
    )


def test_line_breaks_inside_content_are_fine_but_nul_is_not() -> None:
    assert parse_email_request(body(content="a\r\nBcc: x@example.com")).content
    assert only_problem(body(content="a\x00b")) == "`content` must not contain NUL characters."


@pytest.mark.parametrize("field", ["to_name", "subject", "content"])
def test_a_lone_surrogate_is_refused_as_invalid_text(field: str) -> None:
    assert only_problem(body(**{field: "bad \ud800 text"})) == (
        f"`{field}` must be valid Unicode text (it holds a lone surrogate)."
    )


# -- lengths -----------------------------------------------------------------------------


def test_to_name_longer_than_200_characters_is_refused() -> None:
    assert only_problem(body(to_name="n" * 201)) == (
        "`to_name` must be at most 200 characters long; it has 201."
    )


def test_subject_longer_than_998_characters_is_refused() -> None:
    assert only_problem(body(subject="s" * 999)) == (
        "`subject` must be at most 998 characters long; it has 999."
    )


def test_content_limit_counts_utf8_bytes_not_characters() -> None:
    two_byte = "é"  # 2 bytes in UTF-8
    at_limit = two_byte * (MAX_CONTENT_BYTES // 2)  # 262,144 chars = 524,288 bytes
    assert parse_email_request(body(content=at_limit)).content == at_limit
    over = at_limit + two_byte  # 524,290 bytes, though only 262,145 characters
    assert only_problem(body(content=over)) == (
        "`content` must be at most 512 KiB once encoded as UTF-8; it is 524290 bytes."
    )


# -- non-string values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("subject", 3.5, "a number"),
        ("content", ["a", "b"], "a list"),
        ("subject", {"text": "hi"}, "an object"),
        ("to_name", True, "a boolean"),
    ],
)
def test_a_value_that_is_not_a_string_is_named_with_its_kind(
    field: str, value: object, kind: str
) -> None:
    assert only_problem(body(**{field: value})) == f"`{field}` must be a string, not {kind}."


@pytest.mark.parametrize(("value", "kind"), [(42, "a number"), (b"jane@example.com", "bytes")])
def test_an_address_field_of_another_kind_is_named_with_its_kind(value: object, kind: str) -> None:
    assert only_problem(body(to=value)) == (
        "`to` must be an address, a list of addresses or an object {\"email\", \"name\"}, "
        f"not {kind}."
    )


def test_a_body_that_is_not_a_mapping_is_refused_as_a_whole() -> None:
    error = problems(["to", "subject"])  # type: ignore[arg-type]
    assert error.details[0]["field"] == "body"
    assert error.message.startswith("The request body must be an object")


# -- the sentence and the details --------------------------------------------------------


def test_one_problem_gives_its_own_sentence_without_a_count() -> None:
    error = problems(body(subject=...))
    assert error.message == "`subject` is required."
    assert str(error) == error.message


def test_two_problems_mention_the_first_and_one_more_in_one_sentence() -> None:
    error = problems(body(to="jane@example", content=""))
    assert error.message == (
        "`to` must be a valid email address: The part after the @-sign is not valid. "
        "It should have a period (and 1 more problem)."
    )


def test_every_problem_is_detailed_in_field_order_with_a_full_sentence() -> None:
    error = problems(
        {"to": "Jane <jane@>", "to_name": 7, "subject": "Hi\r\nBcc: v@example.com"}
    )
    assert [detail["field"] for detail in error.details] == ["to", "to_name", "subject", "content"]
    for detail in error.details:
        assert set(detail) == {"field", "message"}
        assert detail["message"].startswith(f"`{detail['field']}` ")
        assert detail["message"].endswith(".")
    assert error.message.endswith("(and 3 more problems).")
    assert "\n" not in error.message


def test_the_model_itself_refuses_bad_values_when_built_directly() -> None:
    with pytest.raises(ValidationError) as info:
        EmailRequest(to="jane@example.com", subject="Hi\r\nBcc: v@example.com", content="x")
    assert "`subject` must not contain U+000D (a control character)" in str(info.value)


def test_a_valid_request_is_immutable() -> None:
    request = parse_email_request(body())
    with pytest.raises(ValidationError):
        request.subject = "changed"
