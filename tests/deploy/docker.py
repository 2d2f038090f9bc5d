"""Docker for the deployment tests: the engine running, the base image made, micromailer's image
built once, and the containers a test starts removed whatever happens.

These tests need Docker and never skip: where the engine cannot be started, they fail with a
sentence saying why (``make deploy-tools`` installs Debian's docker.io and debootstrap).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
BASE_IMAGE_SCRIPT = ROOT / "deploy" / "docker" / "base-image.sh"
#: The tag the tests build; compose and Kubernetes name micromailer:latest.
IMAGE = "micromailer:test"
DOCKERD_LOG = Path(tempfile.gettempdir()) / "micromailer-dockerd.log"
#: Seconds a cold build may take before the test gives up.
BUILD_TIMEOUT = 900


def docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``docker ARGS``; on failure (with ``check``) the test fails with docker's own words."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        pytest.fail(f"`docker {' '.join(args[:3])} …` failed ({done.returncode}):\n"
                    f"{_tail(_output(done))}", pytrace=False)
    return done


def _output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure_dockerd(timeout: float = 60) -> None:
    """Docker's engine answering: started in the background (overlay2, logging to
    :data:`DOCKERD_LOG`) when ``docker info`` fails, and left running for later runs."""
    if _engine_answers():
        return
    if shutil.which("docker") is None or shutil.which("dockerd") is None:
        pytest.fail("Docker is not installed: these tests build and run micromailer's image "
                    "(`make deploy-tools` installs Debian's docker.io).", pytrace=False)
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(["dockerd", "--storage-driver", "overlay2"], stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _engine_answers():
            return
        time.sleep(1)
    pytest.fail(f"Docker's engine did not start within {timeout:.0f} s; its log, "
                f"{DOCKERD_LOG}, ends:\n{_tail(DOCKERD_LOG.read_text(errors='replace'))}",
                pytrace=False)


def base_image() -> str:
    """The image the Dockerfile's first FROM names."""
    match = re.search(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert match is not None, f"no FROM in {DOCKERFILE}"
    return match.group(1)


def ensure_base_image() -> None:
    """The image the Dockerfile's FROM names, made by deploy/docker/base-image.sh when the
    engine does not have it (it cannot be pulled: no registry is reachable)."""
    done = subprocess.run(["sh", str(BASE_IMAGE_SCRIPT), str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=900)
    if done.returncode != 0:
        pytest.fail(f"{BASE_IMAGE_SCRIPT.name} could not make the base image:\n"
                    f"{_tail(_output(done))}", pytrace=False)


@functools.cache
def built_image() -> str:
    """micromailer's image built from the Dockerfile as it is, once per test session (its
    layers stay cached for the next session); its tag."""
    ensure_dockerd()
    ensure_base_image()
    # --force-rm: a failed step leaves no container behind. Never --pull: no registry.
    docker("build", "--force-rm", "-f", str(DOCKERFILE.relative_to(ROOT)), "-t", IMAGE,
           str(ROOT), timeout=BUILD_TIMEOUT)
    return IMAGE


def inspect(kind: str, name: str) -> dict[str, Any]:
    """``docker KIND inspect NAME`` (``image`` or ``container``) as a dictionary."""
    body: list[dict[str, Any]] = json.loads(docker(kind, "inspect", name).stdout)
    return body[0]


class Containers:
    """The containers a test starts, all removed on leaving (with their anonymous volumes)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, *args: str) -> str:
        """``docker run --detach ARGS``; the container's id."""
        container = docker("run", "--detach", *args).stdout.strip()
        self.started.append(container)
        return container

    def run(self, *args: str, timeout: float = 120) -> str:
        """``docker run ARGS`` to its end; its output."""
        return docker("run", "--rm", *args, timeout=timeout).stdout

    def logs(self) -> str:
        """The last lines of every started container's output, for a failure's message."""
        return "\n".join(
            f"--- {container[:12]} ---\n"
            f"{_tail(_output(docker('logs', container, check=False)), 30)}"
            for container in self.started
        )

    def __enter__(self) -> Containers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.started:
            docker("rm", "--force", "--volumes", *self.started, check=False)


__all__ = [
    "BASE_IMAGE_SCRIPT", "DOCKERFILE", "IMAGE", "ROOT", "Containers", "base_image", "built_image",
    "docker", "ensure_base_image", "ensure_dockerd", "inspect",
]
