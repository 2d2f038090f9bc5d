"""What Celery users expect of a worker, on micromailer's fast path: ``celery control revoke``
drops a queued deliver message, and with task events on (``-E``, or Flower's
``enable_events``) Flower counts every deliver task. Distributed mode on RabbitMQ."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from kombu import Connection

from micromailer.queue.names import QUEUE_NAME
from tests.support.backends import fresh_backends
from tests.support.cluster import Cluster
from tests.support.processes import free_port

pytestmark = pytest.mark.e2e

FLOWER_AUTH = ("ops", "secret-for-tests")


def celery_cli(broker_url: str, *args: str) -> str:
    """``celery -b BROKER ARGS`` as an operator runs it; its output."""
    completed = subprocess.run([sys.executable, "-m", "celery", "-b", broker_url, *args],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def queued_task_id(broker_url: str) -> str:
    """The task id of the message at the head of the deliver queue, put back where it was
    (what an operator reads in RabbitMQ's management page)."""
    with Connection(broker_url) as connection:
        channel = connection.default_channel
        # The API publishes after its 202, in batches a few milliseconds apart: wait for it.
        deadline = time.monotonic() + 10
        while (message := channel.basic_get(queue=QUEUE_NAME, no_ack=False)) is None:
            assert time.monotonic() < deadline, "the deliver queue stayed empty for 10 s"
            time.sleep(0.05)
        task_id: str = message.headers["id"]
        channel.basic_reject(message.delivery_tag, requeue=True)
    return task_id


def post(cluster: Cluster, subject: str) -> str:
    response = cluster.clients[0].post_json(to="jane@example.com", subject=subject, content="Hi.")
    assert response.status_code == 202, response.text
    email_id: str = response.json()["emailId"]
    return email_id


def test_revoking_a_queued_deliver_message_prevents_its_send(tmp_path: Path) -> None:
    with fresh_backends() as backends:
        # One email in flight at a time; no sweeper republishing within the test.
        cluster = Cluster(tmp_path, backends, workers=1, concurrency=1,
                          MICROMAILER_SWEEP_AFTER="600").start()
        try:
            cluster.sandbox_client.set_faults("sendgrid", latencyMs=4000)
            busy = post(cluster, "busy")  # holds the worker's one slot
            revoked = post(cluster, "revoked")  # waits in RabbitMQ behind it
            task_id = queued_task_id(backends.broker_url)

            replies = celery_cli(backends.broker_url, "control", "revoke", task_id)
            assert "revoked" in replies, replies
            after = post(cluster, "after")
            final = cluster.clients[0].wait_final([busy, after])

            assert {body["status"] for body in final.values()} == {"sent"}
            # The revoked message came off the queue before the one behind it, and was dropped.
            body = cluster.clients[0].email(revoked)
            assert (body["status"], body["attempts"]) == ("queued", []), body
            subjects = [m["subject"] for m in cluster.sandbox_client.captured("sendgrid")]
            assert "revoked" not in subjects, subjects
        finally:
            cluster.stop()


def start_flower(broker_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "--broker", broker_url, "flower", f"--port={port}",
         "--address=127.0.0.1", f"--basic-auth={':'.join(FLOWER_AUTH)}"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )


def flower_tasks(port: int) -> dict[str, dict[str, Any]]:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/api/tasks", auth=FLOWER_AUTH, timeout=10)
    except httpx.TransportError:
        return {}
    tasks: dict[str, dict[str, Any]] = response.json() if response.status_code == 200 else {}
    return tasks


def succeeded(port: int) -> int:
    """Deliver tasks Flower counts as succeeded. (It shows them without their arguments: the
    messages carry no ``argsrepr``; docs/dependencies.md.)"""
    return sum(
        1 for task in flower_tasks(port).values()
        if task.get("name") == "micromailer.deliver" and task.get("state") == "SUCCESS"
    )


@pytest.mark.parametrize("turned_on_by", ["-E", "enable_events"])
def test_with_task_events_on_flower_counts_every_deliver_task(
    tmp_path: Path, turned_on_by: str,
) -> None:
    options = ("-E",) if turned_on_by == "-E" else ()
    with fresh_backends() as backends:
        cluster = Cluster(tmp_path, backends, workers=1, concurrency=4,
                          worker_options=options).start()
        port = free_port()
        flower = start_flower(backends.broker_url, port, tmp_path / "flower.log")
        try:
            if turned_on_by == "enable_events":  # what Flower asks of every worker it finds
                replies = celery_cli(backends.broker_url, "control", "enable_events")
                assert "enabled" in replies, replies
            # Flower misses what happened before it listened: send until it sees one.
            deadline = time.monotonic() + 60
            while not succeeded(port) and time.monotonic() < deadline:
                cluster.clients[0].wait_final([post(cluster, "probe")])
                time.sleep(1)
            assert succeeded(port), "Flower saw no deliver task"
            before = succeeded(port)

            emails = [post(cluster, f"counted {n}") for n in range(5)]
            final = cluster.clients[0].wait_final(emails)
            assert {body["status"] for body in final.values()} == {"sent"}
            deadline = time.monotonic() + 30
            while succeeded(port) < before + 5 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert succeeded(port) == before + 5
        finally:
            flower.terminate()
            flower.wait(timeout=20)
            cluster.stop()
