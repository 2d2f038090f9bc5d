"""docker-compose.yml as Debian's docker-compose resolves it: ``config -q`` passes with no
secret set, and the resolved model has the shape the deployment relies on. Flower's start-up
guard, the one piece of shell in the file, runs for real against this machine's RabbitMQ.

No image registry is reachable here, so the stack itself cannot be brought up (postgres,
rabbitmq and nginx images cannot be pulled): the configuration is the bar."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.processes import ManagedProcess, clean_env, free_port
from tests.support.servers import require_rabbitmq, unavailable

ROOT = Path(__file__).resolve().parents[2]
DOCKER_COMPOSE = Path("/usr/bin/docker-compose")
#: The services that run micromailer's image.
MICROMAILER_SERVICES = {"migrate", "api", "worker", "sandbox", "flower"}
#: Exit status of Flower's guard when its secret is missing (EX_CONFIG).
NO_BASIC_AUTH = 78


def docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose ARGS`` on the file, with no variable set and no ``.env`` read."""
    if not DOCKER_COMPOSE.exists():
        unavailable(f"{DOCKER_COMPOSE} is not installed (Debian's docker-compose: "
                    "make deploy-tools)")
    with tempfile.NamedTemporaryFile(suffix=".env") as no_variables:
        return subprocess.run(
            [str(DOCKER_COMPOSE), "--project-directory", str(ROOT),
             "--env-file", no_variables.name, "-f", str(ROOT / "docker-compose.yml"), *args],
            env=clean_env(), capture_output=True, text=True, timeout=60, check=False,
        )


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    """The model docker-compose resolves, every profile's services included."""
    done = docker_compose("--profile", "ops", "config")
    assert done.returncode == 0, done.stderr
    resolved: dict[str, Any] = yaml.safe_load(done.stdout)
    return resolved


@pytest.mark.parametrize("profiles", [(), ("--profile", "ops")], ids=["default", "ops"])
def test_the_file_is_valid_with_no_secret_set(profiles: tuple[str, ...]) -> None:
    done = docker_compose(*profiles, "config", "-q")

    assert done.returncode == 0, done.stderr


def test_flower_starts_only_with_the_ops_profile_and_nothing_but_nginx_is_published(
    model: dict[str, Any],
) -> None:
    services = model["services"]

    assert services["flower"]["profiles"] == ["ops"]
    assert [name for name, service in services.items() if "profiles" in service] == ["flower"]
    assert [name for name, service in services.items() if service.get("ports")] == ["nginx"]


def test_the_migrations_run_once_before_the_api_and_the_workers(model: dict[str, Any]) -> None:
    services = model["services"]
    migrate = services["migrate"]

    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}, name


def test_every_micromailer_service_runs_the_same_image(model: dict[str, Any]) -> None:
    services = model["services"]
    images = {name: service["image"] for name, service in services.items()
              if service["image"].startswith("micromailer")}
    builds = [service["build"] for service in services.values() if "build" in service]

    assert set(images) == MICROMAILER_SERVICES
    assert set(images.values()) == {"micromailer:latest"}
    assert builds and all(build == builds[0] for build in builds)


def test_flowers_password_is_a_secret_file_never_in_its_environment_or_command(
    model: dict[str, Any],
) -> None:
    flower = model["services"]["flower"]
    secret = model["secrets"]["flower_basic_auth"]

    assert "FLOWER_BASIC_AUTH" not in flower["environment"]
    assert not any("basic-auth" in part or "basic_auth=" in part
                   for part in [*flower["entrypoint"], *flower["command"]])
    assert flower["secrets"] == [{"source": "flower_basic_auth"}]
    assert flower["environment"]["BASIC_AUTH_FILE"] == "/run/secrets/flower_basic_auth"
    assert Path(secret["file"]) == ROOT / "secrets" / "flower_basic_auth"
    # Neither git nor the image's build context takes the secrets directory.
    assert "/secrets/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "secrets" in (ROOT / ".dockerignore").read_text().splitlines()


def test_no_credential_has_a_default_in_the_file(model: dict[str, Any]) -> None:
    """Provider keys come from the operator's .env (or _FILE secrets): unset, they are empty,
    and the service runs in sandbox mode."""
    credentials = {name: value for service in model["services"].values()
                   for name, value in (service.get("environment") or {}).items()
                   if name.endswith("_API_KEY")}

    assert credentials and set(credentials.values()) == {""}, credentials


def test_the_worker_exports_its_metrics_on_9808_and_is_checked_there(
    model: dict[str, Any],
) -> None:
    worker = model["services"]["worker"]

    assert worker["environment"]["MICROMAILER_WORKER_METRICS_PORT"] == "9808"
    assert "http://127.0.0.1:9808/metrics" in " ".join(worker["healthcheck"]["test"])


def test_each_service_checks_its_own_port(model: dict[str, Any]) -> None:
    """The image's HEALTHCHECK asks the API's port; the other roles check their own."""
    services = model["services"]

    assert services["migrate"]["healthcheck"] == {"test": ["NONE"]}  # `disable: true`
    assert "127.0.0.1:8000/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert "127.0.0.1:8025/" in " ".join(services["sandbox"]["healthcheck"]["test"])
    assert "127.0.0.1:5555/healthcheck" in " ".join(services["flower"]["healthcheck"]["test"])


# -- Flower's guard, run as the container would run it -------------------------------------


def flower_argv(model: dict[str, Any], port: int) -> list[str]:
    """Flower's entrypoint and command as the container runs them (``$$`` is compose's
    escape for ``$``), on ``port``."""
    flower = model["services"]["flower"]
    entrypoint = [part.replace("$$", "$") for part in flower["entrypoint"]]
    assert flower["command"] == ["--port=5555"]
    return [*entrypoint, f"--port={port}"]


def flower_env(secret: Path) -> dict[str, str]:
    """Flower's environment from the file, with the secret at ``secret``, this machine's
    broker, and this environment's ``celery`` first on the PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return clean_env(BASIC_AUTH_FILE=str(secret), CELERY_BROKER_URL=require_rabbitmq(),
                     PATH=path)


@pytest.mark.parametrize("secret", ["missing", "empty", "no password", "a directory"])
def test_flower_refuses_to_start_without_its_basic_auth(
    model: dict[str, Any], tmp_path: Path, secret: str,
) -> None:
    path = tmp_path / "flower_basic_auth"
    if secret == "empty":
        path.write_text("\n")
    elif secret == "no password":
        path.write_text("ops\n")
    elif secret == "a directory":  # what a bind mount of a missing file becomes
        path.mkdir()

    done = subprocess.run(flower_argv(model, free_port()), env=flower_env(path),
                          capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == NO_BASIC_AUTH, done.stderr
    assert "refusing to start without basic auth" in done.stderr


def test_flower_with_its_secret_asks_every_visitor_for_it(
    model: dict[str, Any], tmp_path: Path,
) -> None:
    secret = tmp_path / "flower_basic_auth"
    secret.write_text("ops:correct-horse\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "flower.log").open("wb") as log:
        flower = subprocess.Popen(flower_argv(model, port), env=flower_env(secret),
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while flower.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthcheck", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            raise AssertionError((tmp_path / "flower.log").read_text(errors="replace"))
        healthcheck = model["services"]["flower"]["healthcheck"]["test"]
        checked = subprocess.run(
            [sys.executable, *[part.replace("5555", str(port)) for part in healthcheck[2:]]],
            capture_output=True, timeout=30, check=False)
        anonymous = httpx.get(f"{url}/api/workers", timeout=10)
        wrong = httpx.get(f"{url}/api/workers", auth=("ops", "guess"), timeout=10)
        right = httpx.get(f"{url}/api/workers", auth=("ops", "correct-horse"), timeout=10)
    finally:
        flower.terminate()
        flower.wait(timeout=20)

    assert checked.returncode == 0, checked.stderr
    assert (anonymous.status_code, wrong.status_code, right.status_code) == (401, 401, 200)


def test_the_sandboxs_health_check_passes_against_the_sandbox_compose_starts(
    model: dict[str, Any], tmp_path: Path,
) -> None:
    sandbox = model["services"]["sandbox"]
    port = free_port()
    command = [str(port) if part == "8025" else part for part in sandbox["command"]]
    check = [part.replace("8025", str(port)) for part in sandbox["healthcheck"]["test"][2:]]
    process = ManagedProcess(command, clean_env(), tmp_path / "sandbox.log").start()
    try:
        process.wait_http(f"http://127.0.0.1:{port}/_sandbox")
        checked = subprocess.run([sys.executable, *check], capture_output=True, text=True,
                                 timeout=30, check=False)
    finally:
        process.stop()

    assert checked.returncode == 0, checked.stderr
