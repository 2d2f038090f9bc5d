"""Celery's worker logs through micromailer's logging (``logs.py``), in its format.

A receiver of Celery's ``setup_logging`` signal tells Celery that logging is set up: it then adds
no handler, formatter or stdout redirection of its own. The few notices the worker prints rather
than logs (``worker: Warm shutdown (MainProcess)``…) go through ``celery.apps.worker.safe_say``:
replaced here by a log call, an internal watched by tests/unit/test_library_canaries.py.
"""

from __future__ import annotations

import logging

import celery.apps.worker
from celery.signals import setup_logging

log = logging.getLogger("celery.apps.worker")

#: Celery's loggers that write INFO lines per task: at hundreds of emails a second that is real
#: CPU. Attempts are in the store; the worker's log keeps what goes wrong.
PER_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


def adopt_celery_logging() -> None:
    """Keep Celery's worker on this process's logging; call before ``worker_main``."""
    setup_logging.connect(_quiet_per_task_logs, weak=False)
    celery.apps.worker.safe_say = _say


def _quiet_per_task_logs(**_: object) -> None:
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _say(message: str, *_: object) -> None:
    """What the worker printed, as a log line (Celery calls it from its signal handlers)."""
    log.info("%s", message.strip())


__all__ = ["PER_TASK_LOGGERS", "adopt_celery_logging"]
