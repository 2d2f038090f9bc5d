"""``micromailer send`` accepts through the API's own intake: the same validation, the same
store and the same deliver message, with no way in of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from kombu import Connection

from micromailer.cli import main
from micromailer.config import Settings
from micromailer.queue.sqlite_transport import TRANSPORT_PATH
from micromailer.store.emails import EmailStore
from micromailer.store.engine import make_engine
from tests.support.deliver_queue import take_email_ids


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MICROMAILER_DATA_DIR", str(tmp_path))
    return tmp_path


def test_send_stores_the_email_and_publishes_its_delivery(data_dir: Path) -> None:
    result = CliRunner().invoke(main, [
        "send", "--to", "Ada@Example.com", "--to-name", "Ada", "--subject", "Hi",
        "--content", "**bold**",
    ])

    assert result.exit_code == 0, result.output
    email_id = result.output.strip().splitlines()[-1]
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    view = EmailStore(make_engine(settings.store_url)).get_email(email_id)
    assert view is not None
    assert (view.to_email, view.to_name, view.subject) == ("Ada@example.com", "Ada", "Hi")
    with Connection(settings.celery_broker_url, transport=TRANSPORT_PATH) as connection:
        assert take_email_ids(connection) == [email_id]


def test_send_refuses_what_the_api_refuses_with_the_same_sentence(data_dir: Path) -> None:
    result = CliRunner().invoke(main, [
        "send", "--to", "ada@example.com", "--subject", "Invoice \u202egpj.exe", "--content", "x",
    ])

    assert result.exit_code == 2
    assert "`subject` must not contain U+202E (a bidirectional control)" in result.output


def test_send_takes_cc_bcc_and_files(data_dir: Path) -> None:
    report = data_dir / "report.pdf"
    report.write_bytes(b"%PDF-1.4 " + bytes(range(256)))
    result = CliRunner().invoke(main, [
        "send", "--to", "ada@example.com, bob@example.com", "--cc", "carol@example.com",
        "--bcc", "dan@example.com", "--subject", "Report", "--content", "Attached.",
        "--attach", str(report),
    ])

    assert result.exit_code == 0, result.output
    email_id = result.output.strip().splitlines()[-1]
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    view = EmailStore(make_engine(settings.store_url)).get_email(email_id)
    assert view is not None and view.envelope is not None
    assert [item.email for item in view.envelope.to] == ["ada@example.com", "bob@example.com"]
    assert [item.email for item in view.envelope.bcc] == ["dan@example.com"]
    assert [(item.filename, item.content_type, item.size)
            for item in view.envelope.attachments] == [("report.pdf", "application/pdf", 265)]


def test_send_refuses_a_sender_outside_the_sender_domains(data_dir: Path) -> None:
    result = CliRunner().invoke(main, [
        "send", "--to", "ada@example.com", "--from", "ceo@example.com", "--subject", "s",
        "--content", "x",
    ])

    assert result.exit_code == 2
    assert "MICROMAILER_SENDER_DOMAINS" in result.output
