"""The log formats and the context that puts ``email_id`` and ``key`` on every line."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import logging.config
import sys
import threading
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from micromailer.delivery.loop_thread import LoopThread
from micromailer.logs import (
    CONSOLE,
    JSON,
    ConsoleFormatter,
    JsonLineFormatter,
    LogContextFilter,
    bind_email,
    email_context,
    key_context,
    logging_config,
)

LOGGER = "micromailer.test_logs"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """What :data:`LOGGER` writes, through a JSON handler with the context filter."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(LogContextFilter())
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield written
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def lines(written: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in written.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_and_message_first(stream: io.StringIO) -> None:
    logging.getLogger(LOGGER).warning("queue is %d deep", 7)

    [line] = lines(stream)

    assert list(line)[:4] == ["time", "level", "logger", "message"]
    assert (line["level"], line["logger"]) == ("WARNING", LOGGER)
    assert line["message"] == "queue is 7 deep"
    stamp = datetime.fromisoformat(line["time"])
    assert line["time"].endswith("Z") and stamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(stamp.tzinfo) - stamp) < timedelta(minutes=1)


def test_an_exception_is_one_field_of_the_same_line(stream: io.StringIO) -> None:
    try:
        raise RuntimeError("provider exploded")
    except RuntimeError:
        logging.getLogger(LOGGER).exception("delivery failed")

    [line] = lines(stream)

    assert line["message"] == "delivery failed"
    assert "Traceback" in line["exception"]
    assert "RuntimeError: provider exploded" in line["exception"]


def test_the_email_and_the_key_in_context_are_on_the_line_and_gone_after(
    stream: io.StringIO,
) -> None:
    log = logging.getLogger(LOGGER)
    with key_context("billing"), email_context("e-1"):
        log.info("inside")
    log.info("outside")

    inside, outside = lines(stream)

    assert (inside["email_id"], inside["key"]) == ("e-1", "billing")
    assert "email_id" not in outside and "key" not in outside


def test_an_id_passed_by_the_call_wins_over_the_context(stream: io.StringIO) -> None:
    with email_context("e-context"):
        logging.getLogger(LOGGER).info("about another", extra={"email_id": "e-explicit"})

    assert lines(stream)[0]["email_id"] == "e-explicit"


def test_no_key_adds_no_key_field(stream: io.StringIO) -> None:
    with key_context(None):
        logging.getLogger(LOGGER).info("authentication is off")

    assert "key" not in lines(stream)[0]


def test_concurrent_deliveries_on_one_loop_each_log_their_own_email(
    stream: io.StringIO,
) -> None:
    """As the worker runs them: many emails in flight on one event loop, in a thread."""
    log = logging.getLogger(LOGGER)

    async def deliver(email_id: str) -> None:
        with email_context(email_id):
            for step in range(3):
                log.info("%s step %d", email_id, step)
                await asyncio.sleep(0)  # the others run in between

    loop = LoopThread("test-logs")
    try:
        futures = [loop.submit(deliver(f"e-{n}")) for n in range(5)]
        for future in futures:
            future.result(timeout=10)
    finally:
        loop.stop()

    written = lines(stream)
    assert len(written) == 15
    for line in written:
        assert line["message"].startswith(line["email_id"] + " ")


def test_the_console_format_names_the_context_after_the_message() -> None:
    record = logging.LogRecord(LOGGER, logging.INFO, __file__, 1, "retrying", None, None)
    record.email_id = "e-9"

    text = ConsoleFormatter().format(record)

    assert text.endswith(f" INFO {LOGGER}: retrying [email_id=e-9]")


def test_uvicorn_and_every_other_logger_write_through_the_one_handler() -> None:
    config = logging_config(JSON, "DEBUG")

    assert config["root"] == {"level": logging.DEBUG, "handlers": ["stderr"]}
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name]["handlers"] == []
        assert config["loggers"][name]["propagate"] is True
    assert config["handlers"]["stderr"]["filters"] == ["context"]
    assert config["loggers"]["httpx"] == {"level": logging.WARNING}
    assert logging_config(CONSOLE)["formatters"]["line"]["()"] is ConsoleFormatter


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        logging_config("xml")


def test_the_configuration_applies_as_uvicorn_applies_it() -> None:
    """uvicorn hands ``log_config`` to ``dictConfig`` again, in each of its processes."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        config = logging_config(JSON)
        logging.config.dictConfig(config)
        logging.config.dictConfig(config)
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, JsonLineFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_an_email_bound_in_a_request_task_stays_on_its_lines_and_in_that_task_only(
    stream: io.StringIO,
) -> None:
    """As ``GET /email/{id}``: bound by the handler, still there when the answer is sent."""
    log = logging.getLogger(LOGGER)

    async def request(email_id: str) -> None:
        bind_email(email_id)
        await asyncio.sleep(0)
        log.info("answered")

    async def server() -> None:
        await asyncio.gather(request("e-a"), request("e-b"))
        log.info("between requests")

    asyncio.run(server())

    assert [line.get("email_id") for line in lines(stream)] == ["e-a", "e-b", None]


def test_a_delivery_left_pending_when_its_loop_stops_is_closed_without_an_error() -> None:
    """Closed by the garbage collector, outside its task's context, the coroutine cannot reset
    the variable: that must not raise (pytest would report an unraisable exception)."""
    unraisable: list[BaseException | None] = []
    hook, sys.unraisablehook = sys.unraisablehook, lambda u: unraisable.append(u.exc_value)

    inside = threading.Event()

    async def pending_delivery() -> None:
        with email_context("e-pending"):
            inside.set()
            await asyncio.Event().wait()

    try:
        loop = LoopThread("test-logs-pending")
        future = loop.submit(pending_delivery())
        assert inside.wait(10), "the delivery never started"
        loop.stop()
        del future
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # asyncio's "Task was destroyed but it is pending!"
            gc.collect()
    finally:
        sys.unraisablehook = hook

    assert unraisable == []
