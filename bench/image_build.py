"""What micromailer's image costs to make: the stand-in base's creation (debootstrap and
import, as deploy/docker/base-image.sh does it, under a throwaway tag), the image's build cold
(``--no-cache``), warm with nothing changed and warm after a change to micromailer's code, and
the image's size. Writes ``bench/results/image_build.json``.

    .venv/bin/python -m bench.image_build [--skip-base]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.deploy.docker import (
    BASE_IMAGE_SCRIPT,
    DOCKERFILE,
    ROOT,
    base_image,
    docker,
    ensure_base_image,
    ensure_dockerd,
    inspect,
)

RESULTS = Path(__file__).parent / "results" / "image_build.json"
TAG = "micromailer:bench"
CHANGED_TAG = "micromailer:bench-changed"
BASE_PROBE_TAG = "micromailer-bench-base:probe"
#: What the build context holds (.dockerignore lets nothing else through).
CONTEXT = ("pyproject.toml", "README.md", "requirements.lock", ".dockerignore", "src", "deploy")


def timed(action: Callable[[], object]) -> float:
    start = time.monotonic()
    action()
    return round(time.monotonic() - start, 1)


def build(*options: str, context: Path = ROOT, tag: str = TAG) -> None:
    dockerfile = context / DOCKERFILE.relative_to(ROOT)
    docker("build", "--force-rm", *options, "-f", str(dockerfile), "-t", tag, str(context),
           timeout=1800)


def base_creation_seconds() -> float:
    """base-image.sh run for a Dockerfile naming a tag no image has: the whole creation."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "Dockerfile"
        probe.write_text(f"FROM {BASE_PROBE_TAG}\n")
        seconds = timed(lambda: subprocess.run(["sh", str(BASE_IMAGE_SCRIPT), str(probe)],
                                               check=True, capture_output=True, timeout=1800))
    docker("rmi", BASE_PROBE_TAG)
    return seconds


def code_change_seconds() -> float:
    """A warm build of a copy of the context whose code differs by one line."""
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp)
        for name in CONTEXT:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, context / name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                shutil.copy(source, context / name)
        with (context / "src" / "micromailer" / "__init__.py").open("a") as module:
            module.write("# changed\n")
        seconds = timed(lambda: build(context=context, tag=CHANGED_TAG))
    docker("rmi", CHANGED_TAG)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-base", action="store_true",
                        help="Do not time the base image's creation (about a minute).")
    args = parser.parse_args()
    ensure_dockerd()
    ensure_base_image()
    base = base_image()
    seconds: dict[str, float] = {}
    if not args.skip_base:
        print("creating the base image under a throwaway tag ...", flush=True)
        seconds["baseCreation"] = base_creation_seconds()
    print("building cold, then warm ...", flush=True)
    seconds["buildCold"] = timed(lambda: build("--no-cache"))
    seconds["buildWarm"] = timed(build)
    seconds["buildWarmCodeChanged"] = code_change_seconds()
    image, base_layers = inspect("image", TAG), inspect("image", base)
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": seconds,
        "bytes": {"image": image["Size"], "base": base_layers["Size"],
                  "addedToBase": image["Size"] - base_layers["Size"]},
        "engine": docker("version", "--format", "{{.Server.Version}}").stdout.strip(),
    }
    docker("rmi", TAG)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for name, value in seconds.items():
        print(f"{name:<22} {value:>7.1f} s")
    for name, size in report["bytes"].items():
        print(f"{name:<22} {size / 1e6:>7.1f} MB")


if __name__ == "__main__":
    main()
