"""The other-site policy: which requests a browser made for another site's page, judged from
``Origin`` and ``Sec-Fetch-*`` against the server's own origin and the allowed ones."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from micromailer.security.origins import (
    OriginPolicy,
    OwnSite,
    SiteHeaders,
    Verdict,
    parse_origin,
    parse_origins,
)

OWN = OwnSite("127.0.0.1", 8000)
ALLOWED = OriginPolicy.from_setting("https://app.example.com, http://localhost:3000")


def judge(
    method: str = "POST", origins: Sequence[str] = (), site: str | None = None,
    mode: str | None = None, dest: str | None = None, own: OwnSite | None = OWN,
) -> Verdict:
    return ALLOWED.judge(SiteHeaders(method, origins, site, mode, dest), own)


@pytest.mark.parametrize(("value", "expected"), [
    ("https://app.example.com", ("https", "app.example.com", 443)),
    ("HTTP://App.Example.COM", ("http", "app.example.com", 80)),
    ("http://127.0.0.1:8000", ("http", "127.0.0.1", 8000)),
    ("http://[::1]:8000", ("http", "::1", 8000)),
    ("https://app.example.com:443", ("https", "app.example.com", 443)),
])
def test_an_origin_reads_as_scheme_host_and_port(
    value: str, expected: tuple[str, str, int],
) -> None:
    assert parse_origin(value) == expected


@pytest.mark.parametrize("value", [
    "null", "", "app.example.com", "ftp://app.example.com", "https://", "https://app.example.com/",
    "https://app.example.com/path", "https://user@app.example.com", "https://app.example.com:x",
    "file://", "chrome-extension://abcdef", "https://évil.example", "https://[::1",
])
def test_anything_else_is_no_origin(value: str) -> None:
    assert parse_origin(value) is None


def test_the_setting_is_kept_as_browsers_write_origins() -> None:
    listed = "HTTPS://App.Example.com:443, http://localhost:3000,, http://[::1]:80"
    assert parse_origins(listed) == [
        "https://app.example.com", "http://localhost:3000", "http://[::1]",
    ]
    assert parse_origins(None) == [] == parse_origins(" ")


@pytest.mark.parametrize("entry", ["app.example.com", "https://app.example.com/", "null", "*",
                                   "https://app.example.com/path", "ws://app.example.com"])
def test_a_malformed_allowed_origin_is_refused_with_a_sentence(entry: str) -> None:
    with pytest.raises(ValueError, match=r"MICROMAILER_ALLOWED_ORIGINS: .* scheme://host\[:port\]"):
        parse_origins(f"https://ok.example, {entry}")


# -- the verdicts ----------------------------------------------------------------------------


def test_a_client_that_is_not_a_browser_is_not_judged() -> None:
    assert judge() is Verdict.OWN
    assert judge("GET") is Verdict.OWN


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8000", "https://127.0.0.1:8000"])
def test_the_servers_own_page_may_call_whatever_the_scheme(origin: str) -> None:
    assert judge(origins=[origin], site="same-origin", mode="cors") is Verdict.OWN


def test_behind_a_proxy_without_a_port_in_host_the_default_ports_are_the_servers() -> None:
    proxied = OwnSite("mail.example.com", None)

    assert judge(origins=["https://mail.example.com"], own=proxied) is Verdict.OWN
    assert judge(origins=["http://mail.example.com"], own=proxied) is Verdict.OWN
    assert judge(origins=["https://mail.example.com:8443"], own=proxied) is Verdict.OTHER
    assert judge(origins=["https://www.mail.example.com"], own=proxied) is Verdict.OTHER


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "http://127.0.0.1:8001",             # another server on the same machine
    "http://localhost:8000",             # the same server by another name: another origin
    "http://localhost.evil.example:8000",
    "null",                              # sandboxed frames, file: pages, redirects
    "HTTP://127.0.0.1:8000 ",
    "garbage",
])
def test_another_origin_is_another_site(origin: str) -> None:
    assert judge(origins=[origin]) is Verdict.OTHER
    assert judge(origins=[origin], site="cross-site", mode="cors") is Verdict.OTHER


def test_the_issues_cross_site_form_is_another_site() -> None:
    assert judge(origins=["https://evil.example"], site="cross-site", mode="navigate",
                 dest="document") is Verdict.OTHER


def test_an_allowed_origin_gets_cors_even_from_another_site() -> None:
    for site in (None, "cross-site", "same-site"):
        assert judge(origins=["https://app.example.com"], site=site) is Verdict.ALLOWED
    assert judge(origins=["http://localhost:3000"], mode="cors") is Verdict.ALLOWED
    # compared as browsers write it
    assert judge(origins=["https://APP.example.com"]) is Verdict.OTHER
    assert judge(origins=["https://app.example.com:443"]) is Verdict.OTHER


def test_a_sibling_subdomain_is_another_site_unless_allowed() -> None:
    own = OwnSite("mail.example.com", None)
    assert judge(origins=["https://evil.example.com"], site="same-site", own=own) is Verdict.OTHER
    assert judge(site="same-site", mode="no-cors", dest="image", own=own) is Verdict.OTHER
    assert judge(origins=["https://app.example.com"], site="same-site", own=own) is (
        Verdict.ALLOWED)


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_sec_fetch_site_alone_names_another_site(site: str) -> None:
    assert judge(site=site, mode="no-cors") is Verdict.OTHER
    assert judge("GET", site=site, mode="no-cors", dest="image") is Verdict.OTHER
    assert judge("GET", site=site, mode="cors") is Verdict.OTHER
    # no browser sends its own origin with cross-site; whoever does is not believed
    assert judge(origins=["http://127.0.0.1:8000"], site=site) is Verdict.OTHER


@pytest.mark.parametrize("site", ["same-origin", "none", None])
def test_same_origin_and_user_initiated_requests_pass(site: str | None) -> None:
    assert judge(site=site) is Verdict.OWN


def test_a_link_from_another_site_still_opens_the_page() -> None:
    for method in ("GET", "HEAD"):
        for dest in ("document", None):
            assert judge(method, site="cross-site", mode="navigate", dest=dest) is Verdict.OWN


@pytest.mark.parametrize(("method", "dest"), [
    ("POST", "document"),   # a form posted from another site
    ("GET", "iframe"),      # the page framed by another site
    ("GET", "frame"),
    ("GET", "embed"),
])
def test_a_navigation_that_is_not_a_top_level_get_is_judged_as_any_request(
    method: str, dest: str,
) -> None:
    assert judge(method, site="cross-site", mode="navigate", dest=dest) is Verdict.OTHER


def test_the_servers_page_may_send_null_when_the_browser_says_same_origin() -> None:
    """The page's Referrer-Policy (no-referrer) makes browsers send ``Origin: null`` on its
    POSTs; ``Sec-Fetch-Site``, which no script sets, then tells that it is the page's."""
    assert judge(origins=["null"], site="same-origin", mode="cors") is Verdict.OWN
    assert judge(origins=["null"], site="none") is Verdict.OTHER
    assert judge(origins=["null"], site="cross-site") is Verdict.OTHER


def test_several_origins_are_another_site() -> None:
    assert judge(origins=["http://127.0.0.1:8000", "https://evil.example"]) is Verdict.OTHER
    assert judge(origins=["https://app.example.com", "https://app.example.com"]) is Verdict.OTHER


def test_without_a_host_to_compare_with_any_origin_is_another_site() -> None:
    assert judge(origins=["http://127.0.0.1:8000"], own=None) is Verdict.OTHER
    assert judge(own=None) is Verdict.OWN
    assert judge(origins=["https://app.example.com"], own=None) is Verdict.ALLOWED
