"""The ``simulate`` extra: greenlet and matplotlib serve the simulation only, so a server
installs neither; they are imported when a run needs them, with a sentence when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_HINT = "install micromailer[simulate] (pip install 'micromailer[simulate]')"


class MissingExtraError(RuntimeError):
    """A package of the ``simulate`` extra is not installed."""


def import_extra(module: str, needed_for: str) -> ModuleType:
    """``module``, imported; :class:`MissingExtraError` naming the extra if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.partition(".")[0]
        raise MissingExtraError(f"{needed_for} needs {package}: {INSTALL_HINT}.") from exc


def load_greenlet() -> ModuleType:
    """greenlet: each simulated email's attempt runs in one while its tries take time."""
    return import_extra("greenlet", "`micromailer simulate`")


def load_pyplot() -> ModuleType:
    """matplotlib's pyplot on the Agg backend (files only, no display)."""
    matplotlib = import_extra("matplotlib", "`micromailer simulate --plot`")
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


__all__ = ["INSTALL_HINT", "MissingExtraError", "import_extra", "load_greenlet", "load_pyplot"]
