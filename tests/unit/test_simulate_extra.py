"""The ``simulate`` extra: the service installs and imports neither greenlet nor matplotlib,
and ``simulate`` without them says which extra to install."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest
from click.testing import CliRunner

import micromailer
from micromailer.cli import main
from micromailer.simulate.extra import INSTALL_HINT

SIMULATE_ONLY = ("greenlet", "matplotlib")


def test_the_server_requirements_leave_the_simulation_packages_to_the_extra() -> None:
    unconditional = [
        line for line in requires("micromailer") or [] if "extra ==" not in line
    ]
    pulled = [line for line in unconditional if line.split(">")[0].split("[")[0] in SIMULATE_ONLY]
    assert pulled == [], f"installed for everyone: {pulled}"
    extra = {line.split(">")[0] for line in requires("micromailer") or []
             if 'extra == "simulate"' in line}
    assert extra >= set(SIMULATE_ONLY)


def test_only_the_simulation_imports_greenlet_or_matplotlib() -> None:
    root = Path(micromailer.__file__).parent
    importers = []
    for path in root.rglob("*.py"):
        if path.parent.name == "simulate":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.partition(".")[0] in SIMULATE_ONLY for name in names):
                importers.append(str(path.relative_to(root)))
    assert importers == []


def test_the_service_never_loads_matplotlib() -> None:
    # (Celery imports greenlet by itself where it is installed, so only matplotlib is checked.)
    code = (
        "import sys\n"
        "import micromailer.api.app, micromailer.cli, micromailer.queue.runtime\n"
        "import micromailer.queue.celery_app, micromailer.queue.deliver_strategy\n"
        "print('matplotlib' in sys.modules)\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "False"


@pytest.mark.parametrize(("missing", "options"), [
    ("greenlet", []),
    ("matplotlib", ["--plot", "figures"]),
])
def test_simulate_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, missing: str, options: list[str],
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # what an import finds when it is absent

    result = CliRunner().invoke(main, ["simulate", "--seeds", "1", "--scenario",
                                       "original-outage", "--strategy", "original", *options])

    assert result.exit_code == 1
    assert f"needs {missing}: {INSTALL_HINT}." in result.output
    assert "Traceback" not in result.output
