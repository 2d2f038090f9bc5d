"""Every process's logging: one JSON object a line, or text for a console, on stderr.

A line about an email carries its ``email_id``, a line logged while serving a keyed request the
key's name as ``key``. Both come from context variables that the intake, the worker and the key
gate set (:func:`email_context`, :func:`bind_email`, :func:`key_context`);
:class:`LogContextFilter` copies them onto each record. uvicorn's loggers propagate to the same
handler (:func:`logging_config` is also uvicorn's ``log_config``); Celery's worker keeps it
(``queue/worker_logging.py``).
"""

from __future__ import annotations

import logging
import logging.config
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

JSON = "json"
CONSOLE = "console"

#: Loggers that write a line per request or per plugin: their warnings only.
QUIET_LOGGERS = ("alembic", "httpx", "httpcore")

_email_id: ContextVar[str | None] = ContextVar("micromailer_email_id", default=None)
_key_name: ContextVar[str | None] = ContextVar("micromailer_key", default=None)

#: Record attribute → the context variable that fills it.
CONTEXT_FIELDS: dict[str, ContextVar[str | None]] = {"email_id": _email_id, "key": _key_name}


@contextmanager
def email_context(email_id: str) -> Iterator[None]:
    """Lines logged inside carry ``email_id`` (in this thread or asyncio task only)."""
    with _bound(_email_id, email_id):
        yield


def bind_email(email_id: str) -> None:
    """Lines logged from here to the end of the current asyncio task carry ``email_id``: for a
    request about one email, whose answer (and its access line) is sent after the handler
    returns."""
    _email_id.set(email_id)


@contextmanager
def key_context(key_name: str | None) -> Iterator[None]:
    """Lines logged inside carry the API key's name as ``key``; ``None`` (no key) adds none."""
    with _bound(_key_name, key_name):
        yield


@contextmanager
def _bound(variable: ContextVar[str | None], value: str | None) -> Iterator[None]:
    token = variable.set(value)
    try:
        yield
    finally:
        # A coroutine still pending when its loop stopped is closed later, by the garbage
        # collector, outside its task's context: there is nothing to restore then.
        with suppress(ValueError):
            variable.reset(token)


class LogContextFilter(logging.Filter):
    """Copies the context's ``email_id`` and ``key`` onto each record, unless the call gave
    its own (``extra={"email_id": …}``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for field, variable in CONTEXT_FIELDS.items():
            value = variable.get()
            if value is not None and not hasattr(record, field):
                setattr(record, field, value)
        return True


class JsonLineFormatter(JsonFormatter):
    """``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, then the record's extra
    fields (``email_id``, ``key``…), and ``exception`` with its traceback when there is one."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception",
                           "stack_info": "stack"},
            # uvicorn repeats some messages with terminal colours in ``color_message``.
            reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = utc_time(record.created)  # first, for readers that sort by eye
        super().add_fields(log_data, record, message_dict)


class ConsoleFormatter(logging.Formatter):
    """``time LEVEL logger: message [email_id=… key=…]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = " ".join(
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        )
        return f"{line} [{context}]" if context else line


def utc_time(created: float) -> str:
    """``2026-12-04T10:15:02.123Z``: a record's time, to the millisecond."""
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def logging_config(log_format: str, level: str | int = "INFO") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a process: one stderr handler on the root logger,
    in ``log_format``; uvicorn's loggers propagate to it; :data:`QUIET_LOGGERS` say warnings
    only."""
    if log_format not in (JSON, CONSOLE):
        raise ValueError(f"unknown log format {log_format!r}")
    level_number = level if isinstance(level, int) else logging.getLevelName(level.upper())
    formatter = JsonLineFormatter if log_format == JSON else ConsoleFormatter
    propagate_to_root = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": LogContextFilter}},
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                       "formatter": "line", "filters": ["context"]},
        },
        "root": {"level": level_number, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {**propagate_to_root, "level": "INFO"},
            "uvicorn.error": propagate_to_root,
            "uvicorn.access": propagate_to_root,
            **{name: {"level": max(logging.WARNING, level_number)} for name in QUIET_LOGGERS},
        },
    }


def configure_logging(log_format: str, level: str | int = "INFO") -> dict[str, Any]:
    """Set this process's logging up (:func:`logging_config`), with Python's warnings and
    uncaught exceptions as log lines too; returns the configuration, for uvicorn's
    ``log_config`` (each of its worker processes applies it again)."""
    config = logging_config(log_format, level)
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    return config


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    logging.getLogger("micromailer").critical("uncaught exception",
                                              exc_info=(kind, error, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or args.exc_type is SystemExit:
        return
    thread = args.thread.name if args.thread is not None else "?"
    logging.getLogger("micromailer").error(
        "uncaught exception in thread %s", thread,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


__all__ = [
    "CONSOLE",
    "CONTEXT_FIELDS",
    "JSON",
    "QUIET_LOGGERS",
    "ConsoleFormatter",
    "JsonLineFormatter",
    "LogContextFilter",
    "bind_email",
    "configure_logging",
    "email_context",
    "key_context",
    "logging_config",
    "utc_time",
]
