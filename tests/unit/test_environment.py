"""No test reads the developer's environment: in process (tests/conftest.py) or in a child."""

from __future__ import annotations

import os

import pytest

from micromailer.config import Settings
from tests.conftest import IN_PROCESS_HOSTS
from tests.support.environment import configures_micromailer
from tests.support.processes import clean_env

#: One of each kind the developer's shell may hold.
DEVELOPER_VARIABLES = {
    "MICROMAILER_STRATEGY": "original",
    "MICROMAILER_SMTP_URL": "smtp://user:secret@mail.example:587",
    "SENDGRID_API_KEY": "SG.developer",
    "MANDRILL_API_KEY_FILE": "/home/dev/mandrill.key",
    "POSTMARK_SERVER_TOKEN": "pm-developer",
    "MAILGUN_DOMAIN": "mg.example.org",
    "AWS_SECRET_ACCESS_KEY": "aws-developer",
    "RESEND_API_KEY": "re_developer",
}


def test_an_in_process_test_sees_no_micromailer_setting_or_provider_credential() -> None:
    inherited = sorted(name for name in os.environ if configures_micromailer(name))

    # the one setting the suite gives in-process tests itself (tests/conftest.py)
    assert inherited == ["MICROMAILER_ALLOWED_HOSTS"]
    assert os.environ["MICROMAILER_ALLOWED_HOSTS"] == IN_PROCESS_HOSTS
    settings = Settings()
    assert settings.sendgrid_api_key is None and settings.mandrill_api_key is None
    assert settings.sandbox_url is None


def test_a_child_process_gets_none_of_them_either(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DEVELOPER_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MICROMAILER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

    env = clean_env(MICROMAILER_SANDBOX_URL="http://127.0.0.1:8025")

    assert not set(DEVELOPER_VARIABLES) & set(env)
    assert env["MICROMAILER_SANDBOX_URL"] == "http://127.0.0.1:8025"
    assert env["PATH"] == os.environ["PATH"]
