"""Credentials from files (``<NAME>_FILE``): each credential reads its file, less the trailing
newline; a value set twice, an unreadable file or an empty one is refused with a sentence that
names the variable and never shows the secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsError

from micromailer.cli import main
from micromailer.config import Credential, Settings

SECRET = "s3cr3t-value"


def secret_file(tmp_path: Path, content: str = SECRET + "\n") -> Path:
    path = tmp_path / "secret"
    path.write_text(content)
    return path


def reveal(value: SecretStr | str | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@pytest.mark.parametrize(("variable", "attribute"), [
    ("SENDGRID_API_KEY", "sendgrid_api_key"),
    ("MICROMAILER_SENDGRID_API_KEY", "sendgrid_api_key"),
    ("MANDRILL_API_KEY", "mandrill_api_key"),
    ("MICROMAILER_DATABASE_URL", "database_url"),
    ("MICROMAILER_BROKER_URL", "broker_url"),
    ("MICROMAILER_REDIS_URL", "redis_url"),
    ("SPARKPOST_WEBHOOK_TOKEN", "sparkpost_webhook_token"),
    ("BREVO_WEBHOOK_TOKEN", "brevo_webhook_token"),
])
def test_each_credential_can_come_from_the_file_its_FILE_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, attribute: str,
) -> None:
    monkeypatch.setenv(f"{variable}_FILE", str(secret_file(tmp_path)))

    assert reveal(getattr(Settings(), attribute)) == SECRET


def test_a_key_from_a_file_is_a_secret_string_that_never_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY_FILE", str(secret_file(tmp_path)))
    settings = Settings()

    assert isinstance(settings.sendgrid_api_key, SecretStr)
    assert SECRET not in repr(settings) and SECRET not in str(settings.sendgrid_api_key)
    assert settings.provider_names() == ["sendgrid"]
    assert settings.provider_secret("sendgrid") == SECRET


@pytest.mark.parametrize(("content", "value"), [
    ("key\n", "key"),
    ("key\r\n", "key"),
    ("key", "key"),
    ("  key with spaces \n\n", "  key with spaces "),
    ("postgresql://mm:p%40ss@db:5432/mm\n", "postgresql://mm:p%40ss@db:5432/mm"),
])
def test_the_content_is_taken_as_it_is_less_its_trailing_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, value: str,
) -> None:
    monkeypatch.setenv("MANDRILL_API_KEY_FILE", str(secret_file(tmp_path, content)))

    assert reveal(Settings().mandrill_api_key) == value


def test_a_value_set_both_ways_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", "other-value")
    monkeypatch.setenv("SENDGRID_API_KEY_FILE", str(secret_file(tmp_path)))

    with pytest.raises(SettingsError) as refused:
        Settings()

    assert str(refused.value) == (
        "SENDGRID_API_KEY_FILE and SENDGRID_API_KEY are both set: set only one of them (the "
        "file is for secrets mounted into a container)."
    )


def test_two_names_of_one_setting_both_from_files_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY_FILE", str(secret_file(tmp_path)))
    monkeypatch.setenv("MICROMAILER_SENDGRID_API_KEY_FILE", str(secret_file(tmp_path)))

    with pytest.raises(SettingsError, match=r"^SENDGRID_API_KEY_FILE and MICROMAILER_SENDGRID_A"):
        Settings()


def test_an_empty_variable_beside_the_file_counts_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docker-compose.yml passes ``SENDGRID_API_KEY: ${SENDGRID_API_KEY:-}``: empty when unset."""
    monkeypatch.setenv("SENDGRID_API_KEY", "")
    monkeypatch.setenv("SENDGRID_API_KEY_FILE", str(secret_file(tmp_path)))

    assert reveal(Settings().sendgrid_api_key) == SECRET


def test_a_missing_file_is_refused_naming_the_variable_and_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("MICROMAILER_DATABASE_URL_FILE", str(missing))

    with pytest.raises(SettingsError) as refused:
        Settings()

    assert str(refused.value) == (
        f"MICROMAILER_DATABASE_URL_FILE names {missing}, which cannot be read (No such file or "
        "directory): point it at a readable file holding the value."
    )


@pytest.mark.parametrize(("make", "words"), [
    (lambda path: path.mkdir(), "which cannot be read (Is a directory)"),
    (lambda path: path.write_text(""), "which is empty: put the value in it."),
    (lambda path: path.write_text("\n"), "which is empty: put the value in it."),
    (lambda path: path.write_bytes(b"\xff" + SECRET.encode()), "which is not UTF-8 text"),
])
def test_an_unusable_file_is_refused_with_a_sentence_that_never_shows_its_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], object], words: str,
) -> None:
    path = tmp_path / "secret"
    make(path)
    monkeypatch.setenv("MICROMAILER_REDIS_URL_FILE", str(path))

    with pytest.raises(SettingsError) as refused:
        Settings()

    message = str(refused.value)
    assert message.startswith(f"MICROMAILER_REDIS_URL_FILE names {path}, ")
    assert words in message and SECRET not in message


def test_a_setting_that_is_no_credential_has_no_file_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MICROMAILER_SENDER_NAME_FILE", str(secret_file(tmp_path)))

    assert Settings().sender_name == "micromailer"


def test_a_credential_added_later_gets_its_file_variable_by_its_declaration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    class WithMailgun(Settings):
        mailgun_api_key: Credential = Field(
            default=None,
            validation_alias=AliasChoices("MAILGUN_API_KEY", "MICROMAILER_MAILGUN_API_KEY"),
        )

    monkeypatch.setenv("MAILGUN_API_KEY_FILE", str(secret_file(tmp_path)))

    assert reveal(WithMailgun().mailgun_api_key) == SECRET


def test_a_command_refuses_to_start_with_the_sentence_and_no_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["keys", "list"], env={
        "MICROMAILER_DATA_DIR": str(tmp_path),
        "MANDRILL_API_KEY": SECRET,
        "MANDRILL_API_KEY_FILE": str(secret_file(tmp_path)),
    })

    assert result.exit_code == 2
    assert "invalid configuration: MANDRILL_API_KEY_FILE and MANDRILL_API_KEY are both set" \
        in result.output
    assert SECRET not in result.output and "Traceback" not in result.output


def test_the_webhook_secrets_come_from_files_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    password = tmp_path / "password"
    password.write_text(SECRET + "\n")
    monkeypatch.setenv("RESEND_WEBHOOK_SECRET_FILE", str(secret_file(tmp_path, secret + "\n")))
    monkeypatch.setenv("BREVO_WEBHOOK_USERNAME", "hook")
    monkeypatch.setenv("BREVO_WEBHOOK_PASSWORD_FILE", str(password))

    settings = Settings()
    assert reveal(settings.resend_webhook_secret) == secret
    assert reveal(settings.brevo_webhook_password) == SECRET
