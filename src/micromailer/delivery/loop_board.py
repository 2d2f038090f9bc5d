"""The health board as the delivery loop reaches it, without ever waiting on the network.

A memory board is used in place: a lock and a little arithmetic. Any other board (Redis) is
called from one thread of its own: the lessons and the ranking requests that arrive while a
call is under way go together in the next one, lessons first, so one round trip teaches the
board everything that ended meanwhile and every email that asks afterwards is ranked on it.
"""

from __future__ import annotations

from collections.abc import Callable

from micromailer.health.board import HealthBoard, MemoryBoard
from micromailer.health.lesson import Lesson

from .batching import MAX_BATCH, GroupBatcher

#: Called after each lesson reaches the board (in the loop for a memory board, else in the
#: board's thread), e.g. to wake the publisher of health snapshots.
OnLearn = Callable[[], object]

#: A lesson to record, or ``None`` to ask for a ranking.
_Request = Lesson | None


class LoopBoard:
    """``await ranked()`` and ``await learn(lesson)`` on an event loop."""

    def __init__(self, board: HealthBoard, on_learn: OnLearn | None = None) -> None:
        self._board = board
        self._on_learn = on_learn
        self._in_place = isinstance(board, MemoryBoard)
        self._calls: GroupBatcher[_Request, list[str]] = GroupBatcher(
            self._call, "micromailer-board", MAX_BATCH
        )

    async def ranked(self) -> list[str]:
        """Provider names, best score first, as the board stands now."""
        if self._in_place:
            return self._board.ranked()
        return await self._calls.submit(None)

    async def learn(self, lesson: Lesson) -> None:
        """Give the board what one try taught; returns once the board has it."""
        if self._in_place:
            self.learn_now(lesson)
        else:
            await self._calls.submit(lesson)

    def learn_now(self, lesson: Lesson) -> None:
        """Give the board ``lesson`` from this thread, waiting for it (the blocking path)."""
        self._board.record_many([lesson])
        if self._on_learn is not None:
            self._on_learn()

    def _call(self, requests: list[_Request]) -> list[list[str]]:
        lessons = [request for request in requests if request is not None]
        if lessons:
            self._board.record_many(lessons)
            if self._on_learn is not None:
                self._on_learn()
        ranking = self._board.ranked() if len(lessons) < len(requests) else []
        return [ranking] * len(requests)

    def close(self) -> None:
        self._calls.close()


__all__ = ["LoopBoard", "OnLearn"]
