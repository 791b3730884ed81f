"""Writes to one session, one at a time, across every process: a lease in Redis.

An append takes a turn id (``INCRBY seq``), embeds, then logs; a forget deletes ``seq``,
the log and the vectors. Interleaved, they gave duplicate turn ids (the counter restarted
under an append in flight), vectors written into a collection the forget had just dropped
(a trace that outlived the forget) and Chroma's errors of a half-dropped collection. So
``append`` and ``forget`` hold the session's lock (``ns:mem:{ns/session}:lock``, a lease
renewed by nobody: the longest write is bounded by the stores' timeouts, far below it).
A writer that cannot get the lock within ``wait_s`` gets ``Busy`` (429, Retry-After).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from memory.errors import Busy, NotFound, StoreUnavailable
from memory.sessions.store import SessionMemory
from memory.sessions.turns import Turn, validate_session
from memory.stores.redis import store_errors

# Lua: delete the lock only while it is still this writer's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SerialSessionMemory(SessionMemory):
    """``SessionMemory`` whose appends and forgets of one session never interleave."""

    lock_ttl_ms = 30_000
    wait_s = 10.0

    @contextlib.contextmanager
    def serial(self, session: str) -> Iterator[None]:
        """Hold ``session``'s write lock (polling for it up to ``wait_s``)."""
        key, token = self.key(validate_session(session), "lock"), uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_s
        with store_errors():
            while not self.r.set(key, token, nx=True, px=self.lock_ttl_ms):
                if time.monotonic() > deadline:
                    raise Busy("the session is being written or forgotten; retry", 1.0)
                time.sleep(0.01)
        try:
            yield
        finally:
            with contextlib.suppress(StoreUnavailable), store_errors():  # else it expires
                self.r.eval(_RELEASE, 1, key, token)

    def append(
        self,
        session: str,
        turns: Sequence[dict[str, Any]],
        user: str | None = None,
        extract: bool = True,
    ) -> list[Turn]:
        with self.serial(session):
            try:
                return super().append(session, turns, user, extract)
            except NotFound:  # another process forgot it: our collection handle is stale
                with self._lock:
                    self._cols.pop(session, None)
                return super().append(session, turns, user, extract)

    def forget(self, session: str) -> bool:
        with self.serial(session):
            return super().forget(session)
