"""Two workers on one Redis board: a failure one of them meets steers the other at once.

Each dispatcher has its own :class:`RedisBoard` on the same keys, as two worker processes
would. The first dispatcher's email fails on SendGrid and then waits for Mandrill; while it
waits, the second dispatcher starts an email, and its ranking must already put Mandrill first:
the board learns from each try as it ends, not when the attempt is over.
"""

from __future__ import annotations

import asyncio
import threading

from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.verdict import Delivered
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.redis_board import RedisBoard
from micromailer.health.redis_states import redis_client
from tests.support.fakes import ScriptedAdapter, accepted, http_error, make_message

BASES = {"sendgrid": 50.0, "mandrill": 49.0}


def _worker(redis_url: str, prefix: str, journal: list[str],
            mandrill_answers: threading.Event) -> tuple[Dispatcher, RedisBoard]:
    board = RedisBoard(redis_client(redis_url), BreakerStrategy(), BASES, prefix=prefix)
    adapters = [
        ScriptedAdapter("sendgrid", http_error(503), journal=journal),
        ScriptedAdapter("mandrill", accepted(), journal=journal, gate=mandrill_answers),
    ]
    return Dispatcher(adapters, board), board


def test_a_failure_learnt_by_one_dispatcher_steers_the_others_next_ranking(
    redis_url: str, prefix: str
) -> None:
    mandrill_answers = threading.Event()
    first_journal: list[str] = []
    second_journal: list[str] = []
    first, first_board = _worker(redis_url, prefix, first_journal, mandrill_answers)
    second, second_board = _worker(redis_url, prefix, second_journal, mandrill_answers)

    async def scenario() -> None:
        pending = asyncio.create_task(first.attempt_async(make_message()))
        while first_journal != ["sendgrid", "mandrill"]:  # SendGrid failed, Mandrill waits
            await asyncio.sleep(0.005)
        later = asyncio.create_task(second.attempt_async(make_message()))
        while not second_journal:
            await asyncio.sleep(0.005)
        mandrill_answers.set()
        for attempt in (pending, later):
            assert isinstance((await attempt).verdict, Delivered)

    try:
        asyncio.run(scenario())
    finally:
        for dispatcher, board in ((first, first_board), (second, second_board)):
            dispatcher.close()
            board.close()

    assert second_journal == ["mandrill"]
