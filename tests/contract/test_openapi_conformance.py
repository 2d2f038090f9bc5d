"""The OpenAPI document is what the server does: schemathesis generates requests from it and
sends them to the real app in-process (ASGI) on a real SQLite store, in sandbox mode with the
fake providers running, so the ``/sandbox`` routes answer for real.

Every answer must be documented (status, media type, body schema), none may be a 5xx, and no
request the document calls valid may be refused (but a callback URL refused for where it
leads, which no schema can say: :data:`BEYOND_THE_SCHEMA`). It runs twice (:data:`MODES`): with
authentication off, as a fresh install is, and with it on and an admin key sent on every call,
which must then be accepted everywhere (no 401 or 403). The budget is hypothesis's
``max_examples`` per operation (:data:`MAX_EXAMPLES`); :func:`test_the_run_was_big_enough`
checks each run's total and prints how many requests went and how long they took.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, Response
from schemathesis.checks import (
    CheckContext,
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from micromailer.api.app import create_app
from micromailer.api.deps import build_services
from micromailer.config import Settings
from micromailer.sandbox import SandboxThread
from micromailer.store.engine import make_engine
from micromailer.store.keys import KeyStore
from micromailer.store.migrate import upgrade

#: Every operation the relay documents, and nothing else.
OPERATIONS = [
    ("POST", "/email"),
    ("POST", "/emails"),
    ("GET", "/email/{email_id}"),
    ("POST", "/email/{email_id}/retry"),
    ("GET", "/emails"),
    ("POST", "/preview"),
    ("GET", "/providers"),
    ("GET", "/providers/history"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/sandbox"),
    ("PUT", "/sandbox/{provider}/outage"),
    ("GET", "/sandbox/{provider}/messages"),
    ("GET", "/"),
    ("POST", "/callbacks"),
    ("GET", "/callbacks"),
    ("GET", "/callbacks/{callback_id}"),
    ("DELETE", "/callbacks/{callback_id}"),
    ("GET", "/callbacks/{callback_id}/deliveries"),
    ("GET", "/suppressions"),
    ("POST", "/suppressions"),
    ("GET", "/suppressions/{address}"),
    ("DELETE", "/suppressions/{address}"),
    ("POST", "/webhooks/{provider}"),
]
#: Operations whose valid-looking requests the server may refuse for what no schema can say: a
#: callback URL whose host leads to a non-public address (docs/callbacks.md), a provider's
#: event that is not signed by the provider (docs/events.md).
BEYOND_THE_SCHEMA = {("POST", "/callbacks"), ("POST", "/webhooks/{provider}")}
#: Every name a callback URL holds resolves to this public address here: no DNS is asked.
PUBLIC_ADDRESS = "93.184.216.34"
#: Generated requests per operation, at most: hypothesis stops early for an operation with few
#: distinct inputs (``GET /healthz`` has one).
MAX_EXAMPLES = 200
#: Requests the whole run must send, across every operation.
MIN_REQUESTS = 1_000

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]

#: Authentication off (no key exists), and on with an admin key on every call.
MODES = ["open", "keyed"]

#: Requests sent per mode and operation by this module's run, and the time each mode took.
SENT: dict[str, Counter[str]] = {mode: Counter() for mode in MODES}
ELAPSED: Counter[str] = Counter()


@dataclass(frozen=True)
class Relay:
    """The settings of one mode's service, and the headers every call carries."""

    mode: str
    settings: Settings
    headers: dict[str, str]


@pytest.fixture(scope="module", params=MODES)
def relay(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    """Sandbox mode on a migrated SQLite store of its own, with the fake providers running;
    in ``keyed`` mode an admin key exists, which turns authentication on."""
    mode: str = request.param
    with SandboxThread(seed=16) as sandbox:
        settings = Settings(  # type: ignore[call-arg]
            data_dir=tmp_path_factory.mktemp(f"openapi-{mode}"), sandbox_url=sandbox.url,
            _env_file=None,
        )
        upgrade(settings.store_url)
        headers = {}
        if mode == "keyed":
            engine = make_engine(settings.store_url)
            _, secret = KeyStore(engine).create("conformance", scope="admin")
            engine.dispose()
            headers = {"Authorization": f"Bearer {secret}"}
        yield Relay(mode, settings, headers)


@pytest.fixture
def relay_schema(relay: Relay) -> schemathesis.BaseSchema:
    """The relay's document, read from a new app and bound to it.

    One app per test: schemathesis's pytest plugin ends every ASGI app's lifespan (which
    closes the intake) when a test ends.
    """
    services = build_services(relay.settings)
    services.callback_resolver = lambda host, port: [PUBLIC_ADDRESS]
    return schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(relay.settings, services=services)
    )


def the_key_is_accepted(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """With a valid admin key on the call, no gate refuses it: a 401 or 403 here would mean
    the key was not sent, not read, or not enough."""
    assert response.status_code not in (401, 403), (
        f"{case.method} {case.formatted_path} answered {response.status_code} to a valid "
        f"admin key: {response.text[:300]}"
    )
    return None


def test_the_document_lists_every_operation(relay_schema: schemathesis.BaseSchema) -> None:
    documented = {(result.ok().method.upper(), result.ok().path)
                  for result in relay_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


def test_the_keyed_mode_really_needs_the_key(relay: Relay) -> None:
    """Without the key the keyed service refuses (so its run proves the key was accepted);
    the open one answers."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(relay.settings)) as client:
        assert client.get("/emails").status_code == (401 if relay.headers else 200)
        assert client.get("/emails", headers=relay.headers).status_code == 200


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[" ".join(o) for o in OPERATIONS])
def test_every_answer_is_documented_and_no_valid_request_is_refused(
    relay_schema: schemathesis.BaseSchema, relay: Relay, method: str, path: str,
) -> None:
    operation = relay_schema[path][method]
    checks = [*CHECKS, the_key_is_accepted] if relay.headers else list(CHECKS)
    if (method, path) in BEYOND_THE_SCHEMA:
        checks.remove(positive_data_acceptance)

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def each_case(case: schemathesis.Case) -> None:
        SENT[relay.mode][f"{method} {path}"] += 1
        case.call_and_validate(headers=relay.headers, checks=checks)

    started = time.monotonic()
    each_case()
    ELAPSED[relay.mode] += time.monotonic() - started


@pytest.mark.parametrize("mode", MODES)
def test_the_run_was_big_enough(mode: str) -> None:
    """At least :data:`MIN_REQUESTS` in each mode, when every operation ran (not under
    ``-k``)."""
    sent = SENT[mode]
    if len(sent) < len(OPERATIONS):
        pytest.skip(f"not every operation ran in {mode} mode in this session")
    total = sum(sent.values())
    print(f"\nschemathesis, {mode}: {total} requests over {len(sent)} operations "
          f"in {ELAPSED[mode]:.1f} s")
    for label, count in sent.most_common():
        print(f"  {count:5d}  {label}")
    assert total >= MIN_REQUESTS

