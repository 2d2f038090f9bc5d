"""The ``Host`` policy: how a ``Host`` value is read, how MICROMAILER_ALLOWED_HOSTS is parsed,
and which names the default and the patterns let through."""

from __future__ import annotations

import pytest

from micromailer.security.hosts import HostPolicy, parse_host_patterns, split_host


@pytest.mark.parametrize(("value", "expected"), [
    ("localhost", ("localhost", None)),
    ("LocalHost:8000", ("localhost", 8000)),
    ("localhost.:8000", ("localhost", 8000)),
    ("127.0.0.1:8000", ("127.0.0.1", 8000)),
    ("mail.example.com:", ("mail.example.com", None)),
    ("[::1]:8000", ("::1", 8000)),
    ("[::1]", ("::1", None)),
    ("[0:0:0:0:0:0:0:1]:80", ("::1", 80)),
    ("[2001:DB8::1]", ("2001:db8::1", None)),
    ("xn--bcher-kva.example", ("xn--bcher-kva.example", None)),
    ("host:65535", ("host", 65535)),
])
def test_a_host_value_reads_as_its_host_and_port(value: str, expected: tuple[str, int]) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize("value", [
    "", ":8000", ".", "::1", "::1:8000", "[::1", "[::1]x", "[::1]:x", "[evil.example]:80",
    "host:65536", "host:123456", "host:-1", "host:8\uff10", "host:8000:80", "bücher.example",
    "evil.example/path", "user@evil.example", "evil example", "evil.example\r\nX: y",
    "-leading.example", "a" * 300,
])
def test_a_value_that_is_not_one_host_reads_as_none(value: str) -> None:
    assert split_host(value) is None


def test_by_default_the_localhost_names_are_answered_on_any_port() -> None:
    policy = HostPolicy.from_setting(None)

    assert all(policy.allows(name) for name in ("localhost", "127.0.0.1", "::1"))
    assert not policy.allows("evil.example")
    assert not policy.allows("localhost.evil.example")
    assert not policy.allows("127.0.0.2")


def test_by_default_the_bind_address_is_answered_too_unless_it_is_a_wildcard() -> None:
    assert HostPolicy.from_setting(None, "10.1.2.3").allows("10.1.2.3")
    assert HostPolicy.from_setting(None, "mail.internal").allows("mail.internal")
    assert HostPolicy.from_setting(None, "[fd00::5]").allows("fd00::5")
    for wildcard in ("0.0.0.0", "::", "[::]", "0:0::0"):
        assert HostPolicy.from_setting(None, wildcard).names == {"localhost", "127.0.0.1", "::1"}


def test_a_set_list_replaces_the_default() -> None:
    policy = HostPolicy.from_setting("mail.example.com, 10.0.0.5:8000, [fd00::1]", "127.0.0.1")

    assert policy.names == {"mail.example.com", "10.0.0.5", "fd00::1"}
    assert not policy.allows("localhost")
    assert not policy.allows("127.0.0.1")


def test_patterns_match_subdomains_and_a_leading_dot_the_domain_too() -> None:
    policy = HostPolicy.from_setting("*.example.com, .example.org")

    assert policy.allows("mail.example.com") and policy.allows("a.b.example.com")
    assert not policy.allows("example.com")
    assert not policy.allows("evilexample.com")
    assert policy.allows("example.org") and policy.allows("mail.example.org")
    assert not policy.allows("example.org.evil.example")


def test_a_star_answers_every_host_and_only_when_set() -> None:
    assert HostPolicy.from_setting("*").allows("anything.at.all")
    assert HostPolicy.from_setting("mail.example.com,*").any_host
    assert not HostPolicy.from_setting(None).any_host
    assert not HostPolicy.from_setting("  ").any_host


def test_entries_are_normalised() -> None:
    assert parse_host_patterns(" Mail.Example.COM ,, *.Example.org, .x.test, ::1, [::2]:9") == [
        "mail.example.com", "*.example.org", ".x.test", "::1", "::2",
    ]


@pytest.mark.parametrize(("text", "words"), [
    ("https://mail.example.com", "not URLs"),
    ("mail.example.com/api", "not URLs"),
    ("user@mail.example.com", "not URLs"),
    ("mail example", "is not a host name"),
    ("*.", "is not a host name"),
    ("*.[::1]", "is not a host name"),
    ("bücher.example", "is not a host name"),
    (" , ", "lists no host"),
])
def test_a_malformed_entry_is_refused_with_a_sentence_naming_the_setting(
    text: str, words: str,
) -> None:
    with pytest.raises(ValueError, match="MICROMAILER_ALLOWED_HOSTS") as raised:
        parse_host_patterns(text)
    assert words in str(raised.value)
