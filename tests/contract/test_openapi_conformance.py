"""The OpenAPI document is what the server does: schemathesis generates requests from it and
sends them to the real app in-process (ASGI) on a real SQLite store, in sandbox mode with the
fake providers running, so the ``/sandbox`` routes answer for real.

Every answer must be documented (status, media type, body schema), none may be a 5xx, and no
request the document calls valid may be refused. The budget is hypothesis's ``max_examples``
per operation (:data:`MAX_EXAMPLES`); :func:`test_the_run_was_big_enough` checks the total and
prints how many requests went and how long they took.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.sandbox import SandboxThread
from micromailer.store.migrate import upgrade

#: Every operation the relay documents, and nothing else.
OPERATIONS = [
    ("POST", "/email"),
    ("GET", "/email/{email_id}"),
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
]
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

#: Requests sent per operation by this module's run, and the time they took.
SENT: Counter[str] = Counter()
ELAPSED: list[float] = []


@pytest.fixture(scope="module")
def relay_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Sandbox mode on a migrated SQLite store, with the fake providers running."""
    with SandboxThread(seed=16) as sandbox:
        settings = Settings(  # type: ignore[call-arg]
            data_dir=tmp_path_factory.mktemp("openapi"), sandbox_url=sandbox.url, _env_file=None
        )
        upgrade(settings.store_url)
        yield settings


@pytest.fixture
def relay_schema(relay_settings: Settings) -> schemathesis.BaseSchema:
    """The relay's document, read from a new app and bound to it.

    One app per test: schemathesis's pytest plugin ends every ASGI app's lifespan (which
    closes the intake) when a test ends.
    """
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(relay_settings))


def test_the_document_lists_every_operation(relay_schema: schemathesis.BaseSchema) -> None:
    documented = {(result.ok().method.upper(), result.ok().path)
                  for result in relay_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[" ".join(o) for o in OPERATIONS])
def test_every_answer_is_documented_and_no_valid_request_is_refused(
    relay_schema: schemathesis.BaseSchema, method: str, path: str,
) -> None:
    operation = relay_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def each_case(case: schemathesis.Case) -> None:
        SENT[f"{method} {path}"] += 1
        case.call_and_validate(checks=CHECKS)

    started = time.monotonic()
    each_case()
    ELAPSED.append(time.monotonic() - started)


def test_the_run_was_big_enough() -> None:
    """At least :data:`MIN_REQUESTS` in all, when every operation ran (not under ``-k``)."""
    if len(SENT) < len(OPERATIONS):
        pytest.skip("not every operation ran in this session")
    total = sum(SENT.values())
    print(f"\nschemathesis: {total} requests over {len(SENT)} operations "
          f"in {sum(ELAPSED):.1f} s")
    for label, count in SENT.most_common():
        print(f"  {count:5d}  {label}")
    assert total >= MIN_REQUESTS

