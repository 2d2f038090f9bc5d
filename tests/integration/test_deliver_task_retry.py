"""The deliver task on Celery's own path, its store unreachable: it comes back after the
store-down retry's countdowns, as many times as that policy says, and then gives up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery.signals import task_retry

from micromailer.config import Settings
from micromailer.queue.celery_app import DELIVER_TASK, create_celery
from micromailer.retry import TASK_STORE_DOWN_RETRY
from tests.support.processes import free_port


def test_a_task_whose_store_is_unreachable_is_retried_with_the_policys_countdowns(
    tmp_path: Path,
) -> None:
    nothing_listens = f"postgresql://127.0.0.1:{free_port()}/micromailer"
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path, database_url=nothing_listens, sandbox_url="http://127.0.0.1:1",
        _env_file=None,
    )
    app = create_celery(settings)
    countdowns: list[float] = []

    def retried(request: Any = None, reason: Any = None, **_: Any) -> None:
        countdowns.append(reason.when)

    task_retry.connect(retried, weak=False)
    try:
        result = app.tasks[DELIVER_TASK].apply(args=["an-email-id"], throw=False)
    finally:
        task_retry.disconnect(retried)

    assert result.state == "FAILURE"
    assert len(countdowns) == TASK_STORE_DOWN_RETRY.max_retries
    backoff = TASK_STORE_DOWN_RETRY.backoff
    for retries, countdown in enumerate(countdowns):
        expected = min(backoff.cap, backoff.base * 2**retries)
        assert (1 - backoff.jitter) * expected <= countdown
        assert countdown <= min(backoff.cap, (1 + backoff.jitter) * expected)
