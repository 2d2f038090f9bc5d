"""The lock files pin what pyproject.toml asks for: the server lock without the simulation's
packages, the dev lock at the same versions, and the image installs from the server lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
STALE = "run `make lock` to refresh the lock files"


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {canonicalize_name(package): version
            for package, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)}


def unmet(requirements: list[str], pinned: dict[str, str]) -> list[str]:
    """The requirements (for this interpreter) the pins do not satisfy."""
    missing = []
    for line in requirements:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name == "micromailer" or (requirement.marker and not requirement.marker.evaluate()):
            continue
        if name not in pinned or pinned[name] not in requirement.specifier:
            missing.append(line)
    return missing


def test_the_server_lock_pins_every_dependency_and_nothing_of_the_simulation() -> None:
    server = pins("requirements.lock")
    assert unmet(PYPROJECT["dependencies"], server) == [], STALE
    assert {"greenlet", "matplotlib"} & set(server) == set()


def test_the_dev_lock_adds_the_extras_at_the_servers_versions() -> None:
    server, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    extras = PYPROJECT["optional-dependencies"]
    assert unmet([*extras["dev"], *extras["simulate"]], dev) == [], STALE
    differing = {name: (version, dev.get(name)) for name, version in server.items()
                 if dev.get(name) != version}
    assert differing == {}, STALE


def test_the_image_installs_the_server_lock_with_hashes() -> None:
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --no-deps /wheels/" in dockerfile
