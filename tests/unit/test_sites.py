"""The site guard as ASGI: the ``Host`` check, then the other-site check, then CORS for the
allowed origins, then the app; refusals in the API's shape, and none of them a 500, whatever
the headers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from micromailer.config import Settings
from micromailer.security.cors import EXPOSE_HEADERS
from micromailer.security.sites import ONE_HOST, OTHER_SITE, UNKNOWN_HOST, guard_sites

Headers = list[tuple[bytes, bytes]]
ALLOWED_ORIGIN = "https://app.example.com"


class KeyedApp:
    """Stands for the key gate and what is behind it: 401 without ``Authorization``, else 200;
    remembers every request that reached it."""

    def __init__(self) -> None:
        self.reached: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reached.append(f"{scope['method']} {scope['path']}")
        keyed = any(name == b"authorization" for name, _ in scope["headers"])
        status = 200 if keyed else 401
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"location", b"/email/1")]})
        await send({"type": "http.response.body", "body": b"{}"})


def guarded(**values: Any) -> tuple[Any, KeyedApp]:
    """The guard of these settings (the default hosts unless given) in front of a KeyedApp."""
    inner = KeyedApp()
    values = {"allowed_hosts": None, **values}  # not the in-process tests' "testserver"
    return guard_sites(inner, Settings(_env_file=None, **values)), inner  # type: ignore[call-arg]


def call(app: Any, headers: Headers, *, path: str = "/emails", method: str = "GET",
         scheme: str = "http") -> tuple[int, dict[str, str], bytes]:
    """One request straight through ASGI, with exactly the header bytes given."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": scheme, "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    answer_headers = {name.decode("latin-1"): value.decode("latin-1")
                      for name, value in start["headers"]}
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], answer_headers, body


def local(*more: tuple[str, str]) -> Headers:
    return [(b"host", b"127.0.0.1:8000"), (b"authorization", b"Bearer k"),
            *[(name.encode(), value.encode()) for name, value in more]]


def refusal(body: bytes) -> str:
    answer = json.loads(body)
    assert answer["status"] == "failed" and answer["details"] == []
    sentence: str = answer["error"]
    return sentence


def cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.startswith("access-control-")}


# -- the Host check ----------------------------------------------------------------------------


def test_a_foreign_host_gets_400_with_a_sentence_naming_the_setting_and_reaches_nothing() -> None:
    app, inner = guarded()

    status, headers, body = call(app, [(b"host", b"evil.example"), (b"authorization", b"k")])

    assert status == 400
    assert refusal(body) == UNKNOWN_HOST and "MICROMAILER_ALLOWED_HOSTS" in UNKNOWN_HOST
    assert headers["content-type"] == "application/json"
    assert inner.reached == []


@pytest.mark.parametrize("host", [b"localhost", b"localhost:8000", b"127.0.0.1", b"[::1]:8000",
                                  b"LOCALHOST:1", b"localhost.:8000"])
def test_the_localhost_names_pass_on_any_port(host: bytes) -> None:
    app, inner = guarded()

    assert call(app, [(b"host", host), (b"authorization", b"k")])[0] == 200
    assert inner.reached == ["GET /emails"]


def test_the_bind_address_passes_unless_a_wildcard() -> None:
    assert call(guarded(bind_host="10.0.0.7")[0], [(b"host", b"10.0.0.7:8000")])[0] == 401
    assert call(guarded(bind_host="0.0.0.0")[0], [(b"host", b"0.0.0.0:8000")])[0] == 400


@pytest.mark.parametrize(("headers", "sentence"), [
    ([], ONE_HOST),                                                # HTTP/1.0 without Host
    ([(b"host", b"")], ONE_HOST),
    ([(b"host", b"localhost"), (b"host", b"localhost")], ONE_HOST),
    ([(b"host", b"localhost"), (b"host", b"evil.example")], ONE_HOST),
    ([(b"host", "bücher.example".encode())], UNKNOWN_HOST),
    ([(b"host", b"\xff\xfe")], UNKNOWN_HOST),
    ([(b"host", b"::1")], UNKNOWN_HOST),                           # IPv6 without brackets
    ([(b"host", b"localhost:99999")], UNKNOWN_HOST),
    ([(b"host", b"localhost@evil.example")], UNKNOWN_HOST),
])
def test_odd_hosts_get_400_not_500(headers: Headers, sentence: str) -> None:
    status, _, body = call(guarded()[0], headers)

    assert (status, refusal(body)) == (400, sentence)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_answer_whatever_the_host(path: str) -> None:
    app, inner = guarded()

    assert call(app, [(b"host", b"10.244.1.17:8000")], path=path)[0] == 401
    assert call(app, [], path=path)[0] == 401
    assert inner.reached == [f"GET {path}"] * 2
    assert call(app, [(b"host", b"evil.example")], path=f"{path}/x")[0] == 400


def test_a_star_answers_every_host_only_when_set() -> None:
    app, _ = guarded(allowed_hosts="*")

    assert call(app, [(b"host", b"evil.example"), (b"authorization", b"k")])[0] == 200
    assert call(app, [(b"host", b"\xff"), (b"host", b"x"), (b"authorization", b"k")])[0] == 200
    assert call(guarded(allowed_hosts="mail.example.com")[0], local())[0] == 400


def test_the_host_check_comes_before_the_other_site_check() -> None:
    status, _, body = call(guarded()[0], [(b"host", b"evil.example"),
                                          (b"origin", b"https://evil.example")])

    assert (status, refusal(body)) == (400, UNKNOWN_HOST)


# -- other sites -------------------------------------------------------------------------------


def test_the_issues_cross_site_form_gets_403_and_reaches_nothing() -> None:
    app, inner = guarded()

    status, headers, body = call(
        app, local(("origin", "https://evil.example"),
                   ("content-type", "application/x-www-form-urlencoded")),
        path="/email", method="POST",
    )

    assert (status, refusal(body)) == (403, OTHER_SITE)
    assert "MICROMAILER_ALLOWED_ORIGINS" in OTHER_SITE
    assert cors_headers(headers) == {}
    assert inner.reached == []


def test_the_other_site_check_comes_before_the_key_gate() -> None:
    status, _, _ = call(guarded()[0], [(b"host", b"127.0.0.1:8000"),
                                       (b"sec-fetch-site", b"cross-site")], method="POST")

    assert status == 403


def test_the_servers_own_page_gets_no_cors_headers() -> None:
    status, headers, _ = call(guarded(allowed_origins=ALLOWED_ORIGIN)[0],
                              local(("origin", "http://127.0.0.1:8000"),
                                    ("sec-fetch-site", "same-origin")), method="POST")

    assert status == 200
    assert cors_headers(headers) == {}


# -- CORS --------------------------------------------------------------------------------------


def test_an_allowed_origin_gets_cors_headers_on_its_answers_refusals_included() -> None:
    app, _ = guarded(allowed_origins=f"{ALLOWED_ORIGIN}, http://localhost:3000")
    origin = ("origin", ALLOWED_ORIGIN)

    for headers in (local(origin), [(b"host", b"127.0.0.1"), (b"origin", ALLOWED_ORIGIN.encode())]):
        status, answer, _ = call(app, headers, method="POST", path="/email")
        assert status in (200, 401)
        assert answer["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert answer["access-control-expose-headers"] == ", ".join(EXPOSE_HEADERS)
        assert "access-control-allow-credentials" not in answer


def test_a_preflight_of_an_allowed_origin_is_answered_without_a_key() -> None:
    app, inner = guarded(allowed_origins=ALLOWED_ORIGIN)

    status, headers, _ = call(app, [
        (b"host", b"127.0.0.1:8000"), (b"origin", ALLOWED_ORIGIN.encode()),
        (b"access-control-request-method", b"POST"),
        (b"access-control-request-headers", b"authorization, content-type, idempotency-key"),
        (b"sec-fetch-site", b"cross-site"), (b"sec-fetch-mode", b"cors"),
    ], method="OPTIONS", path="/email")

    assert status == 200
    assert headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    allowed = {name.strip().lower() for name in headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "POST" in headers["access-control-allow-methods"]
    assert inner.reached == []


def test_a_preflight_asking_for_another_header_is_refused_in_the_apis_shape() -> None:
    status, _, body = call(guarded(allowed_origins=ALLOWED_ORIGIN)[0], [
        (b"host", b"127.0.0.1:8000"), (b"origin", ALLOWED_ORIGIN.encode()),
        (b"access-control-request-method", b"POST"),
        (b"access-control-request-headers", b"x-custom"),
    ], method="OPTIONS", path="/email")

    assert status == 400
    assert "Authorization, Content-Type, Idempotency-Key" in refusal(body)


def test_another_origins_preflight_gets_403_and_no_cors_header() -> None:
    status, headers, _ = call(guarded(allowed_origins=ALLOWED_ORIGIN)[0], [
        (b"host", b"127.0.0.1:8000"), (b"origin", b"https://evil.example"),
        (b"access-control-request-method", b"POST"),
    ], method="OPTIONS", path="/email")

    assert status == 403
    assert cors_headers(headers) == {}


def test_without_allowed_origins_nobody_gets_cors_headers() -> None:
    status, headers, _ = call(guarded()[0], local(("origin", ALLOWED_ORIGIN)))

    assert status == 403
    assert cors_headers(headers) == {}


# -- whatever the headers ----------------------------------------------------------------------

header_bytes = st.binary(max_size=40) | st.sampled_from([
    b"localhost", b"127.0.0.1:8000", b"[::1]:8000", b"null", b"https://app.example.com",
    b"http://127.0.0.1:8000", b"cross-site", b"same-origin", b"navigate", b"document",
    b"\xc3\xa9vil", b"[", b":", b"", b" ",
])
header_names = st.sampled_from([b"host", b"origin", b"sec-fetch-site", b"sec-fetch-mode",
                                b"sec-fetch-dest", b"access-control-request-method"])


@hypothesis_settings(max_examples=300, deadline=None)
@given(headers=st.lists(st.tuples(header_names, header_bytes), max_size=6),
       method=st.sampled_from(["GET", "HEAD", "POST", "OPTIONS", "PUT"]),
       path=st.sampled_from(["/emails", "/healthz", "/email"]))
def test_no_header_shape_gets_a_500(headers: Headers, method: str, path: str) -> None:
    app, _ = guarded(allowed_origins=ALLOWED_ORIGIN)

    status, answer, body = call(app, [*headers, (b"authorization", b"k")], method=method,
                                path=path)

    assert status in (200, 400, 403)
    if status != 200:
        assert answer["content-type"] == "application/json"
        assert len(refusal(body)) > 20
