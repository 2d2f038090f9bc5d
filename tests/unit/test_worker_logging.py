"""Celery's worker keeps micromailer's logging; its printed notices become log lines."""

from __future__ import annotations

import inspect
import logging
from importlib.metadata import version

import celery.apps.worker
import pytest
from celery.signals import setup_logging

from micromailer.queue.worker_logging import PER_TASK_LOGGERS, adopt_celery_logging

CHANGED = (
    f"celery's internal `celery.apps.worker.safe_say` changed (celery {version('celery')}): "
    "see src/micromailer/queue/worker_logging.py"
)


def test_canary_celerys_shutdown_notices_go_through_the_module_level_safe_say() -> None:
    """The seam replaced: a module-level function looked up by name when a signal arrives."""
    assert list(inspect.signature(celery.apps.worker.safe_say).parameters) == ["msg", "f"], CHANGED
    source = inspect.getsource(celery.apps.worker._shutdown_handler)
    assert "safe_say(f'worker: {how} shutdown (MainProcess)'" in source, CHANGED


def test_the_worker_takes_our_logging_and_logs_what_celery_would_print(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(celery.apps.worker, "safe_say", celery.apps.worker.safe_say)
    for name in PER_TASK_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    receivers_before = len(setup_logging.receivers)
    try:
        adopt_celery_logging()
        # Celery's worker asks whether anyone sets logging up; an answer means it adds nothing.
        answers = setup_logging.send(sender=None, loglevel=logging.INFO, logfile=None,
                                     format="", colorize=False)
        with caplog.at_level(logging.INFO, logger="celery.apps.worker"):
            celery.apps.worker.safe_say("worker: Warm shutdown (MainProcess)\n")
    finally:
        del setup_logging.receivers[receivers_before:]

    assert answers, "no setup_logging receiver: Celery would set up its own handlers"
    assert all(logging.getLogger(name).level == logging.WARNING for name in PER_TASK_LOGGERS)
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("celery.apps.worker", "worker: Warm shutdown (MainProcess)")
    ]
