"""``micromailer retry ID``: the same new cycle as ``POST /email/{id}/retry``, straight into the
store and the broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from kombu import Connection

from micromailer.cli import main
from micromailer.config import Settings
from micromailer.domain.status import Status
from micromailer.queue.sqlite_transport import TRANSPORT_PATH
from micromailer.store.claims import AttemptRecord
from micromailer.store.engine import make_engine
from micromailer.store.migrate import upgrade
from tests.support.deliver_queue import take_email_ids
from tests.support.fakes import Stores, stores_on


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MICROMAILER_DATA_DIR", str(tmp_path))
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    upgrade(settings.store_url)
    return settings


@pytest.fixture
def store(settings: Settings) -> Iterator[Stores]:
    stores = stores_on(make_engine(settings.store_url))
    yield stores
    stores.engine.dispose()


def failed(store: Stores) -> str:
    email_id = store.add()
    claim = store.claims.claim(email_id, 60)
    assert claim is not None
    store.claims.record([AttemptRecord(email_id, claim.attempt_number, [], Status.FAILED,
                                       "recipient refused")])
    return email_id


def test_retry_queues_a_failed_email_again_and_publishes_it(
    settings: Settings, store: Stores,
) -> None:
    email_id = failed(store)

    result = CliRunner().invoke(main, ["retry", email_id])

    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == email_id
    view = store.emails.get_email(email_id)
    assert view is not None
    assert (view.status, view.retries, view.error) == (Status.QUEUED, 1, None)
    with Connection(settings.celery_broker_url, transport=TRANSPORT_PATH) as connection:
        assert take_email_ids(connection) == [email_id]


def test_retry_refuses_an_email_that_is_not_failed_with_the_apis_sentence(
    settings: Settings, store: Stores,
) -> None:
    email_id = store.add()

    result = CliRunner().invoke(main, ["retry", email_id])

    assert result.exit_code == 1
    assert "This email is queued; only failed emails can be retried." in result.output


def test_retry_of_an_unknown_id_says_not_found(settings: Settings) -> None:
    result = CliRunner().invoke(main, ["retry", "no-such-email"])

    assert result.exit_code == 1
    assert '"status": "notfound"' in result.output
