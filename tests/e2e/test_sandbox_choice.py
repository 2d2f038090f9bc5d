"""The sandbox is chosen, never fallen into: ``serve`` and ``worker`` without credentials
refuse to start unless ``MICROMAILER_SANDBOX_URL`` asks for it; ``run`` chooses it, loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ManagedProcess, clean_env, free_port
from tests.support.service import EmbeddedService

#: Long enough for a process to import everything and give up; a server that starts instead
#: never exits, and the test fails on this guard.
REFUSAL_GUARD = 60.0


def micromailer(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "micromailer", *args], env=env, capture_output=True, text=True,
        timeout=REFUSAL_GUARD, check=False,
    )


@pytest.mark.parametrize(
    "args", [["serve", "--port", "0"], ["worker", "-c", "1"]], ids=["serve", "worker"]
)
def test_without_credentials_or_a_sandbox_url_the_process_refuses_with_one_sentence(
    tmp_path: Path, args: list[str]
) -> None:
    refused = micromailer(args, clean_env(MICROMAILER_DATA_DIR=str(tmp_path / "var")))

    assert refused.returncode != 0
    [line] = refused.stderr.strip().splitlines()
    assert "Traceback" not in refused.stderr
    for name in ("SENDGRID_API_KEY", "MANDRILL_API_KEY", "MICROMAILER_SANDBOX_URL"):
        assert name in line
    assert not (tmp_path / "var").exists()  # refused before touching the store


@pytest.mark.parametrize(
    "env",
    [{"MICROMAILER_SANDBOX_URL": "http://127.0.0.1:8025"}, {"SENDGRID_API_KEY": "sg-key"}],
    ids=["sandbox-asked-for", "credentials"],
)
def test_serve_starts_when_the_sandbox_is_asked_for_or_a_provider_has_credentials(
    tmp_path: Path, env: dict[str, str]
) -> None:
    port = free_port()
    api = ManagedProcess(
        ["serve", "--port", str(port)],
        clean_env(MICROMAILER_DATA_DIR=str(tmp_path / "var"), **env),
        tmp_path / "api.log",
    )
    try:
        api.start().wait_http(f"http://127.0.0.1:{port}/readyz")
    finally:
        api.stop()
    sandbox_logged = "SANDBOX MODE" in api.log_tail(200)
    assert sandbox_logged is ("MICROMAILER_SANDBOX_URL" in env)


def test_run_without_credentials_chooses_the_sandbox_and_says_so(tmp_path: Path) -> None:
    service = EmbeddedService(tmp_path / "var").start()
    try:
        sandbox = service.http.get(f"{service.url}/sandbox").json()
    finally:
        service.stop()

    assert sandbox["enabled"] is True
    assert sandbox["url"] == service.sandbox_url
    assert "SANDBOX MODE: no provider credentials are set" in service.log_tail(200)
