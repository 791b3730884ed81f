"""Limits that keep one client from hurting the others.

- ``BodyLimit``: an ASGI middleware refusing request bodies over ``max_body_bytes``
  (``max_file_mb`` for document uploads) with 413, by ``Content-Length`` up front
  and by counting streamed bytes for chunked bodies.
- ``ModelQueue``: model work (chat turns, "chosen" retrieval) runs on dedicated
  worker threads, never on the event loop. Waiting jobs are served round-robin
  across lanes (one lane per tenant+session), so one busy client cannot starve the
  rest; when ``max_waiting`` jobs wait, new ones get ``Busy`` (429 + Retry-After).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory.errors import Busy, InvalidInput, TooLarge

T = TypeVar("T")

UPLOAD_PATH = "/v1/documents"


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{n} bytes"


class BodyLimit:
    """Refuse bodies larger than the limit for their path (413, JSON error body)."""

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max(max_upload, max_body)

    def limit_for(self, scope: Scope) -> int:
        return self.max_upload if scope.get("path") == UPLOAD_PATH else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(
                send, f"request body of {_mb(declared)} exceeds the limit of {_mb(limit)}"
            )
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # an HTTPException passes FastAPI's body parsing unchanged
                    raise HTTPException(413, f"request body exceeds the limit of {_mb(limit)}")
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, message: str) -> None:
    import json

    body = json.dumps({"error": {"type": "too_large", "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def check_length(text: str, limit: int, what: str = "message") -> str:
    """413 when a single message is longer than ``limit`` characters."""
    if len(text) > limit:
        raise TooLarge(f"{what} has {len(text)} characters; the limit is {limit}")
    return text


@dataclass
class _Job:
    fn: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    queued_at: float = field(default_factory=time.monotonic)


class ModelQueue:
    """A fair queue in front of dedicated model worker threads."""

    def __init__(self, max_waiting: int = 32, workers: int = 1, name: str = "model") -> None:
        self.max_waiting = max_waiting
        self.workers = workers
        self.name = name
        self._lanes: OrderedDict[str, deque[_Job]] = OrderedDict()
        self._waiting = 0
        self._running = 0
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._mean_seconds = 2.0  # moving average of a job's run time, for Retry-After

    # --- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        with self._cond:
            self._stopping = False
        for i in range(self.workers - len(self._threads)):
            t = threading.Thread(target=self._work, name=f"{self.name}-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads = []

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def running(self) -> int:
        return self._running

    # --- submitting ----------------------------------------------------------
    async def run(self, lane: str, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on a model worker when ``lane``'s turn comes; await its result."""
        if not self._threads:
            raise InvalidInput("the model queue is not running")
        loop = asyncio.get_running_loop()
        job = _Job(fn, loop, loop.create_future())
        with self._cond:
            if self._waiting >= self.max_waiting:
                raise Busy(
                    f"the model is busy ({self._waiting} requests waiting); retry later",
                    retry_after=self.retry_after(),
                )
            self._lanes.setdefault(lane, deque()).append(job)
            self._waiting += 1
            self._cond.notify()
        result: T = await job.future
        return result

    def retry_after(self) -> float:
        per_worker = (self._waiting + self._running) / max(1, self.workers)
        return max(1.0, per_worker * self._mean_seconds)

    # --- the workers ---------------------------------------------------------
    def _next(self) -> _Job | None:
        with self._cond:
            while not self._stopping and self._waiting == 0:
                self._cond.wait()
            if self._stopping:
                return None
            lane, jobs = next(iter(self._lanes.items()))
            job = jobs.popleft()
            del self._lanes[lane]
            if jobs:  # the lane goes to the back: round-robin across lanes
                self._lanes[lane] = jobs
            self._waiting -= 1
            self._running += 1
            return job

    def _work(self) -> None:
        while (job := self._next()) is not None:
            started = time.monotonic()
            try:
                if job.future.cancelled():  # the client went away while waiting
                    continue
                try:
                    result = job.fn()
                except BaseException as exc:  # handed to the awaiting request
                    _deliver(job, exc=exc)
                else:
                    _deliver(job, result=result)
            finally:
                with self._cond:
                    self._running -= 1
                    took = time.monotonic() - started
                    self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * took


def _deliver(job: _Job, result: Any = None, exc: BaseException | None = None) -> None:
    def settle() -> None:
        if job.future.cancelled():
            return
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop closed (server shutting down)
        job.loop.call_soon_threadsafe(settle)
