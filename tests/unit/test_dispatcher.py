"""The dispatcher: rank by health, fail over, classify each answer, record every try.

Providers are real adapters (the base's steps run) over ``httpx.MockTransport``; the board
is a real :class:`MemoryBoard` with the original strategy on a hand-moved clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpx
import pytest

from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.verdict import Delivered, RetryLater, Undeliverable
from micromailer.domain.status import Outcome
from micromailer.health.base import ProviderHealth, base_scores
from micromailer.health.board import MemoryBoard
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.lesson import Lesson
from micromailer.health.original import OriginalStrategy
from tests.support.fakes import (
    Answer,
    FakeClock,
    ScriptedAdapter,
    accepted,
    calls,
    http_error,
    make_message,
    network_down,
    recipient_refused,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(tick=0.001)


def board_for(names: list[str], clock: FakeClock) -> MemoryBoard:
    return MemoryBoard(OriginalStrategy(), base_scores(names), clock=clock.seconds)


def dispatcher_for(
    adapters: list[ScriptedAdapter], clock: FakeClock, board: MemoryBoard | None = None
) -> tuple[Dispatcher, MemoryBoard]:
    board = board or board_for([adapter.name for adapter in adapters], clock)
    return Dispatcher(adapters, board, clock=clock), board


def untouched(state: ProviderHealth) -> bool:
    return state.health == 1.0 and state.last_error is None


def health_of(board: MemoryBoard) -> dict[str, ProviderHealth]:
    return {state.name: state for state in board.states()}


# -- ranking ------------------------------------------------------------------------------


def test_equally_healthy_providers_are_tried_in_configured_order(clock: FakeClock) -> None:
    journal: list[str] = []
    adapters = [ScriptedAdapter(name, http_error(503), journal=journal) for name in "abc"]
    dispatcher, _ = dispatcher_for(adapters, clock)

    report = dispatcher.attempt(make_message())

    assert journal == ["a", "b", "c"]
    assert [attempt.provider for attempt in report.tries] == ["a", "b", "c"]


def test_the_healthiest_provider_is_tried_first_and_alone_when_it_accepts(
    clock: FakeClock,
) -> None:
    journal: list[str] = []
    adapters = [ScriptedAdapter(name, accepted(f"{name}-id"), journal=journal) for name in "abc"]
    dispatcher, board = dispatcher_for(adapters, clock)
    board.record_failure("a")  # a: 50 x 0.9 = 45 now, below b (49) and c (48)

    report = dispatcher.attempt(make_message())

    assert journal == ["b"]
    assert report.verdict == Delivered("b", "b-id")


def test_a_provider_whose_score_recovered_is_tried_first_again(clock: FakeClock) -> None:
    journal: list[str] = []
    adapters = [ScriptedAdapter(name, accepted(), journal=journal) for name in "ab"]
    dispatcher, board = dispatcher_for(adapters, clock)
    board.record_failure("a")
    dispatcher.attempt(make_message())
    clock.advance(300)  # the score climbs back to base_score over 300 s

    dispatcher.attempt(make_message())

    assert journal == ["b", "a"]


def test_ties_keep_the_boards_configured_order_not_the_adapters_order(clock: FakeClock) -> None:
    journal: list[str] = []
    adapters = [ScriptedAdapter(name, http_error(500), journal=journal) for name in "abc"]
    board = MemoryBoard(OriginalStrategy(), {"c": 50.0, "a": 50.0, "b": 50.0}, clock=clock.seconds)
    dispatcher, _ = dispatcher_for(adapters, clock, board)

    dispatcher.attempt(make_message())

    assert journal == ["c", "a", "b"]


def test_a_ranked_provider_without_an_adapter_is_skipped(clock: FakeClock) -> None:
    adapter = ScriptedAdapter("b", accepted("b-id"))
    dispatcher, _ = dispatcher_for([adapter], clock, board_for(["a", "b"], clock))

    report = dispatcher.attempt(make_message())

    assert [attempt.provider for attempt in report.tries] == ["b"]
    assert report.verdict == Delivered("b", "b-id")


def test_no_usable_provider_means_retry_later_not_failed(clock: FakeClock) -> None:
    dispatcher, _ = dispatcher_for([], clock, board_for(["a"], clock))

    report = dispatcher.attempt(make_message())

    assert report.tries == []
    assert isinstance(report.verdict, RetryLater)


# -- transient failures: fail over and learn ----------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status_code"),
    [
        pytest.param(http_error(500), 500, id="500"),
        pytest.param(http_error(503), 503, id="503"),
        pytest.param(http_error(429, **{"Retry-After": "7"}), 429, id="429"),
        pytest.param(http_error(401), 401, id="401"),
        pytest.param(http_error(403), 403, id="403"),
        pytest.param(network_down(), None, id="connection-refused"),
        pytest.param(httpx.ReadTimeout("read timed out"), None, id="timeout"),
    ],
)
def test_transient_failure_fails_over_to_the_next_provider_and_lowers_the_score(
    clock: FakeClock, answer: Answer, status_code: int | None
) -> None:
    first, second = ScriptedAdapter("a", answer), ScriptedAdapter("b", accepted("b-id"))
    dispatcher, board = dispatcher_for([first, second], clock)
    before = board.scores()

    report = dispatcher.attempt(make_message())

    assert report.verdict == Delivered("b", "b-id")
    assert calls([first, second]) == {"a": 1, "b": 1}
    after = board.scores()
    assert after["a"] < before["a"]
    assert after["a"] == pytest.approx(45.0)  # right after a failure: base 50 x health 0.9
    assert after["b"] == before["b"]
    state = health_of(board)["a"]
    assert state.health == pytest.approx(0.9)
    assert state.last_error is not None
    assert report.tries[0].started_at.timestamp() <= state.last_error <= clock.seconds()
    assert (report.tries[0].outcome, report.tries[0].status_code) == (Outcome.FAILED, status_code)


def test_each_transient_failure_is_recorded_on_the_board(clock: FakeClock) -> None:
    adapters = [
        ScriptedAdapter("a", http_error(502)),
        ScriptedAdapter("b", http_error(429)),
        ScriptedAdapter("c", network_down()),
    ]
    dispatcher, board = dispatcher_for(adapters, clock)
    before = board.scores()

    dispatcher.attempt(make_message())

    after = board.scores()
    assert all(after[name] < before[name] for name in "abc")
    assert {name: state.health for name, state in health_of(board).items()} == pytest.approx(
        {"a": 0.9, "b": 0.9, "c": 0.9}
    )


def test_every_transient_failure_ends_in_retry_later_with_the_longest_retry_after(
    clock: FakeClock,
) -> None:
    adapters = [
        ScriptedAdapter("a", http_error(429, **{"Retry-After": "5"})),
        ScriptedAdapter("b", http_error(503)),
        ScriptedAdapter("c", http_error(429, **{"Retry-After": "30"})),
        ScriptedAdapter("d", http_error(429, **{"Retry-After": "12"})),
    ]
    dispatcher, _ = dispatcher_for(adapters, clock)

    report = dispatcher.attempt(make_message())

    assert isinstance(report.verdict, RetryLater)
    assert report.verdict.retry_after == 30.0
    for name in "abcd":
        assert f"{name}: HTTP" in report.verdict.error


def test_transient_failures_without_retry_after_set_no_floor(clock: FakeClock) -> None:
    adapters = [ScriptedAdapter("a", http_error(503)), ScriptedAdapter("b", network_down())]
    dispatcher, _ = dispatcher_for(adapters, clock)

    report = dispatcher.attempt(make_message())

    assert isinstance(report.verdict, RetryLater)
    assert report.verdict.retry_after is None


class JournalBoard(MemoryBoard):
    """A memory board that writes each lesson it is given into a journal shared with the
    providers, so a test sees when the board learns relative to the tries."""

    def __init__(self, names: list[str], clock: FakeClock, journal: list[object]) -> None:
        super().__init__(OriginalStrategy(), base_scores(names), clock=clock.seconds)
        self.journal = journal

    def record_many(self, lessons: Iterable[Lesson]) -> None:
        lessons = list(lessons)
        self.journal.extend(lessons)
        super().record_many(lessons)


@pytest.mark.parametrize("on_a_loop", [False, True], ids=["blocking", "event-loop"])
def test_the_board_learns_from_each_try_before_the_next_begins(
    clock: FakeClock, on_a_loop: bool
) -> None:
    """Each lesson reaches the board as its try ends, with the Retry-After a 429 named; the
    event loop's attempt does not wait until the whole attempt is over."""
    journal: list[object] = []
    adapters = [
        ScriptedAdapter("a", http_error(429, **{"Retry-After": "30"}), journal=journal),
        ScriptedAdapter("b", http_error(503), journal=journal),
        ScriptedAdapter("c", accepted("c-1"), journal=journal),
    ]
    board = JournalBoard(["a", "b", "c"], clock, journal)
    dispatcher, _ = dispatcher_for(adapters, clock, board)

    if on_a_loop:
        asyncio.run(dispatcher.attempt_async(make_message()))
    else:
        dispatcher.attempt(make_message())

    assert journal == [
        "a", Lesson("a", False, 30.0), "b", Lesson("b", False, None), "c", Lesson("c", True),
    ]


def test_an_attempt_on_the_event_loop_ranks_when_it_starts(clock: FakeClock) -> None:
    adapters = [ScriptedAdapter("a", accepted("a-1")), ScriptedAdapter("b", accepted("b-1"))]
    dispatcher, board = dispatcher_for(adapters, clock)
    board.record_failure("a")

    report = asyncio.run(dispatcher.attempt_async(make_message()))

    assert report.verdict == Delivered("b", "b-1")
    assert calls(adapters) == {"a": 0, "b": 1}


def test_a_breaker_board_holds_a_rate_limited_provider_for_its_retry_after(
    clock: FakeClock,
) -> None:
    adapters = [
        ScriptedAdapter("a", http_error(429, **{"Retry-After": "30"})),
        ScriptedAdapter("b", accepted("b-1")),
    ]
    board = MemoryBoard(BreakerStrategy(), base_scores(["a", "b"]), clock=clock.seconds)
    dispatcher, _ = dispatcher_for(adapters, clock, board)

    dispatcher.attempt(make_message())

    a = health_of(board)["a"]
    assert (a.health, a.last_error) == (1.0, None)
    assert a.retry_at == pytest.approx(clock.seconds() + 30.0, abs=0.1)
    assert dispatcher.rank() == ["b", "a"]


# -- requests rejected as malformed -------------------------------------------------------


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_rejected_request_goes_to_the_next_provider_without_touching_health(
    clock: FakeClock, status: int
) -> None:
    first, second = ScriptedAdapter("a", http_error(status)), ScriptedAdapter("b", accepted("b-id"))
    dispatcher, board = dispatcher_for([first, second], clock)
    before = board.scores()

    report = dispatcher.attempt(make_message())

    assert report.verdict == Delivered("b", "b-id")
    assert untouched(health_of(board)["a"])
    assert board.scores()["a"] == before["a"]
    assert (report.tries[0].outcome, report.tries[0].status_code) == (Outcome.REJECTED, status)


def test_a_request_every_provider_rejects_is_undeliverable_and_health_is_untouched(
    clock: FakeClock,
) -> None:
    adapters = [ScriptedAdapter(name, http_error(400)) for name in "abc"]
    dispatcher, board = dispatcher_for(adapters, clock)

    report = dispatcher.attempt(make_message())

    assert isinstance(report.verdict, Undeliverable)
    assert report.verdict.error.startswith("every provider rejected the request")
    for name in "abc":
        assert f"{name}: HTTP 400: Bad Request" in report.verdict.error
    assert calls(adapters) == {"a": 1, "b": 1, "c": 1}
    assert all(untouched(state) for state in board.states())
    assert board.version == 0


def test_rejected_by_some_and_transient_failure_at_others_retries_later(
    clock: FakeClock,
) -> None:
    adapters = [ScriptedAdapter("a", http_error(400)), ScriptedAdapter("b", http_error(503))]
    dispatcher, board = dispatcher_for(adapters, clock)

    report = dispatcher.attempt(make_message())

    assert isinstance(report.verdict, RetryLater)
    health = health_of(board)
    assert untouched(health["a"])
    assert health["b"].health == pytest.approx(0.9)


# -- recipients refused -------------------------------------------------------------------


def test_refused_recipient_is_final_at_once_and_later_providers_are_never_called(
    clock: FakeClock,
) -> None:
    adapters = [
        ScriptedAdapter("a", recipient_refused("invalid")),
        ScriptedAdapter("b", accepted()),
        ScriptedAdapter("c", accepted()),
    ]
    dispatcher, board = dispatcher_for(adapters, clock)

    report = dispatcher.attempt(make_message())

    assert report.verdict == Undeliverable("a: HTTP 200: recipient invalid")
    assert calls(adapters) == {"a": 1, "b": 0, "c": 0}
    assert [(t.provider, t.outcome) for t in report.tries] == [("a", Outcome.RECIPIENT_REJECTED)]
    assert all(untouched(state) for state in board.states())


def test_refused_recipient_after_a_transient_failure_is_still_final(clock: FakeClock) -> None:
    adapters = [
        ScriptedAdapter("a", http_error(503)),
        ScriptedAdapter("b", recipient_refused()),
        ScriptedAdapter("c", accepted()),
    ]
    dispatcher, _ = dispatcher_for(adapters, clock)

    report = dispatcher.attempt(make_message())

    assert isinstance(report.verdict, Undeliverable)
    assert calls(adapters) == {"a": 1, "b": 1, "c": 0}


# -- adapter bugs -------------------------------------------------------------------------


def test_an_unexpected_adapter_exception_counts_as_a_failure_and_fails_over(
    clock: FakeClock,
) -> None:
    adapters = [
        ScriptedAdapter("a", RuntimeError("bug in adapter")),
        ScriptedAdapter("b", accepted("b-id")),
    ]
    dispatcher, board = dispatcher_for(adapters, clock)
    before = board.scores()

    report = dispatcher.attempt(make_message())

    assert report.verdict == Delivered("b", "b-id")
    assert board.scores()["a"] < before["a"]
    first = report.tries[0]
    assert (first.provider, first.outcome, first.status_code) == ("a", Outcome.FAILED, None)
    assert first.error == "a: internal error: RuntimeError"


def test_unexpected_exceptions_everywhere_retry_later(clock: FakeClock) -> None:
    adapters = [ScriptedAdapter(name, ValueError("bug")) for name in "ab"]
    dispatcher, _ = dispatcher_for(adapters, clock)

    report = dispatcher.attempt(make_message())

    assert isinstance(report.verdict, RetryLater)


# -- the record of tries ------------------------------------------------------------------


def test_every_try_is_recorded_in_order_with_outcome_status_code_and_error(
    clock: FakeClock,
) -> None:
    adapters = [
        ScriptedAdapter("p1", http_error(503)),
        ScriptedAdapter("p2", http_error(429)),
        ScriptedAdapter("p3", http_error(400)),
        ScriptedAdapter("p4", http_error(401)),
        ScriptedAdapter("p5", network_down()),
        ScriptedAdapter("p6", accepted("p6-id")),
    ]
    dispatcher, _ = dispatcher_for(adapters, clock)

    report = dispatcher.attempt(make_message())

    assert [(t.provider, t.outcome, t.status_code, t.error) for t in report.tries] == [
        ("p1", Outcome.FAILED, 503, "p1: HTTP 503: Service Unavailable"),
        ("p2", Outcome.FAILED, 429, "p2: HTTP 429: Too Many Requests"),
        ("p3", Outcome.REJECTED, 400, "p3: HTTP 400: Bad Request"),
        ("p4", Outcome.FAILED, 401, "p4: HTTP 401: Unauthorized"),
        ("p5", Outcome.FAILED, None, "p5: network error (ConnectError: connection refused)"),
        ("p6", Outcome.SENT, None, None),
    ]
    moments = [moment for t in report.tries for moment in (t.started_at, t.finished_at)]
    assert moments == sorted(moments) and len(set(moments)) == len(moments)
    assert report.verdict == Delivered("p6", "p6-id")


def test_the_message_itself_reaches_the_provider(clock: FakeClock) -> None:
    adapter = ScriptedAdapter("a", accepted())
    dispatcher, _ = dispatcher_for([adapter], clock)
    message = make_message(to_email="bob@example.com")

    dispatcher.attempt(message)

    assert adapter.requests[0].read() == (
        f'{{"to":"bob@example.com","id":"{message.email_id}"}}'.encode()
    )
