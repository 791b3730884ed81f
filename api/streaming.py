"""A chat turn on the model queue, its text handed to the event loop piece by piece.

The turn runs on a model worker (``ModelQueue``, fair across lanes); ``on_text`` is called
there with each piece of the answer as it becomes final and puts it on an ``asyncio.Queue``
through ``call_soon_threadsafe``. ``pieces()`` yields those pieces, then the ``Answer``.
When the client goes away, ``close()`` makes the next ``on_text`` raise ``StreamClosed``,
so the worker stops decoding for nobody and serves the next lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from api.limits import ModelQueue
from overlay.turn import Answer


class StreamClosed(Exception):
    """The client of a streamed turn went away; the turn stops at its next piece."""


class TurnStream:
    """One turn's pieces of text, from the worker thread to the event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._items: asyncio.Queue[str] = asyncio.Queue()
        self._closed = False
        self._task: asyncio.Future[Answer] | None = None
        self.received = time.perf_counter()  # the request's arrival (for time to first token)
        self.started: float | None = None  # the turn's start on the worker
        self.first: float | None = None  # the first piece of text

    def on_text(self, piece: str) -> None:
        """Called on the worker thread with each final piece of the answer."""
        if self._closed:
            raise StreamClosed("the client closed the stream")
        if self.first is None:
            self.first = time.perf_counter()
        with contextlib.suppress(RuntimeError):  # the loop closed (server shutting down)
            self._loop.call_soon_threadsafe(self._items.put_nowait, piece)

    def start(self, queue: ModelQueue, lane: str, turn: Callable[[TurnStream], Answer]) -> None:
        """Queue ``turn(self)`` on the model workers."""

        def job() -> Answer:
            self.started = time.perf_counter()
            return turn(self)

        self._task = asyncio.ensure_future(queue.run(lane, job))
        self._task.add_done_callback(_consume)

    def close(self) -> None:
        self._closed = True

    def first_token_ms(self) -> float | None:
        """Milliseconds from the turn's start to its first piece of text."""
        if self.first is None or self.started is None:
            return None
        return (self.first - self.started) * 1000

    async def pieces(self) -> AsyncIterator[str | Answer]:
        """Each piece of text as it arrives, then the turn's ``Answer`` (or its error)."""
        assert self._task is not None, "start() first"
        task = self._task
        while True:
            getter: asyncio.Future[Any] = asyncio.ensure_future(self._items.get())
            waiting: set[asyncio.Future[Any]] = {getter, task}
            try:
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not getter.done():
                    getter.cancel()
            if getter in done:
                yield getter.result()
                continue
            while not self._items.empty():  # pieces are queued before the result is settled
                yield self._items.get_nowait()
            yield task.result()
            return


def _consume(task: asyncio.Future[Answer]) -> None:
    """Retrieve a finished turn's error so an abandoned stream logs no 'never retrieved'."""
    if not task.cancelled():
        task.exception()
