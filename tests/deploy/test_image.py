"""micromailer's image, built from deploy/docker/Dockerfile as it is and run: lean, non-root,
healthy on a read-only root filesystem, and its serve, worker and sandbox containers deliver
through the host's PostgreSQL, RabbitMQ and Redis."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import httpx
import pytest

from tests.deploy.docker import Containers, built_image, docker, inspect
from tests.support.backends import Backends, fresh_backends
from tests.support.client import ApiClient, SandboxClient
from tests.support.processes import free_port

pytestmark = pytest.mark.docker

#: What a read-only container mounts writable besides the data volume (docs/operations.md).
READ_ONLY = ("--read-only", "--tmpfs", "/tmp")
#: The sandbox's fakes: every message a worker delivers lands in one of them.
SANDBOX_PROVIDERS = ("sendgrid", "mandrill")
EMAILS = 100


@pytest.fixture(scope="module")
def image() -> str:
    return built_image()


def test_the_image_runs_as_uid_10001_with_no_build_tools(image: str) -> None:
    config = inspect("image", image)["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["micromailer"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    # The final stage copies /opt/venv alone: no wheels, no pip, setuptools or compiler in it;
    # any of them would print a line between these two.
    lines = docker("run", "--rm", "--entrypoint", "sh", image, "-c",
                   "id -u; ls -d /wheels /opt/venv/bin/pip* 2>/dev/null; command -v gcc cc; "
                   "python -c 'import setuptools' 2>/dev/null && echo setuptools; "
                   "micromailer --version").stdout.splitlines()
    assert lines[0] == "10001"
    assert len(lines) == 2 and lines[1].startswith("micromailer, version "), lines


def test_a_read_only_container_answers_healthz_and_turns_healthy(image: str) -> None:
    port = free_port()
    with Containers() as containers:
        container = containers.start(*READ_ONLY, "--publish", f"127.0.0.1:{port}:8000", image)
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 60, containers,
                  "/healthz did not answer")
        # The HEALTHCHECK's first probe runs one interval (10 s) after the start.
        _wait_for(lambda: _health(container) == "healthy", 60, containers,
                  "the container did not turn healthy")

        writes = docker("exec", container, "sh", "-c",
                        "touch /opt/venv/x 2>&1; touch /tmp/x /var/lib/micromailer/x && echo ok")
        assert "Read-only file system" in writes.stdout
        assert writes.stdout.rstrip().endswith("ok")


def test_serve_worker_and_sandbox_containers_deliver_100_emails(image: str) -> None:
    with fresh_backends() as backends, Containers() as containers:
        sandbox_port, api_port = free_port(), free_port()
        # The host's network: the containers reach PostgreSQL, RabbitMQ and Redis on
        # 127.0.0.1. The image's probe of :8000 would reach the host's port there, so these
        # containers run without it; the test waits for their readiness itself.
        host = ["--network", "host", "--no-healthcheck", *READ_ONLY,
                *_environment(backends, f"http://127.0.0.1:{sandbox_port}")]
        # REQUIRE_AUTH is on in the image: the first key, made (and the store migrated) by
        # a container of the same image.
        created = containers.run(*host, image, "keys", "create", "image-test")
        key = created.split()[-1]

        containers.start(*host, image, "sandbox", "--port", str(sandbox_port))
        containers.start(*host, image, "serve", "--port", str(api_port))
        worker = containers.start(*host, image, "worker", "-c", "16", "-n", "image-worker@%h")
        api = ApiClient(f"http://127.0.0.1:{api_port}", containers.logs, key=key)
        _wait_for(lambda: _answers(f"{api.url}/readyz"), 90, containers, "serve is not ready")
        _wait_for(lambda: " ready." in _logs(worker), 90, containers, "the worker is not ready")

        accepted = []
        for n in range(EMAILS):
            response = api.post_json(to=f"user{n}@example.com", subject=f"image {n}",
                                     content=f"Email *{n}* from the image")
            assert response.status_code == 202, response.text
            accepted.append(response.json()["emailId"])
        final = api.wait_final(accepted, timeout=120)

        assert {body["status"] for body in final.values()} == {"sent"}
        sandbox = SandboxClient(f"http://127.0.0.1:{sandbox_port}")
        captured = [message for provider in SANDBOX_PROVIDERS
                    for message in sandbox.captured(provider)]
        assert len(captured) == EMAILS
        assert {message["subject"] for message in captured} == {
            f"image {n}" for n in range(EMAILS)}


def _environment(backends: Backends, sandbox_url: str) -> list[str]:
    settings = {
        "MICROMAILER_DATABASE_URL": backends.database_url,
        "MICROMAILER_BROKER_URL": backends.broker_url,
        "MICROMAILER_REDIS_URL": backends.redis_url,
        "MICROMAILER_SANDBOX_URL": sandbox_url,
        "MICROMAILER_ALLOWED_HOSTS": "127.0.0.1",
    }
    return [option for name, value in settings.items() for option in ("--env", f"{name}={value}")]


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return httpx.get(url, timeout=2).status_code == 200
    return False


def _health(container: str) -> str:
    status: str = inspect("container", container)["State"]["Health"]["Status"]
    return status


def _logs(container: str) -> str:
    done = docker("logs", container, check=False)
    return done.stdout + done.stderr


def _wait_for(condition: Callable[[], bool], timeout: float, containers: Containers,
              failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{failure} within {timeout:.0f} s:\n{containers.logs()}", pytrace=False)
        time.sleep(0.5)
