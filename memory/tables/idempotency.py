"""Client-supplied idempotency keys (the ``Idempotency-Key`` header) in Redis.

Per tenant namespace: ``<ns>:idem:{<ns>}:<scope>:<key>`` (hash-tagged like every key)
holds ``"pending"`` while the first
request with that key runs, then its JSON response, for ``ttl_s`` seconds. A retry gets
the stored response and writes nothing; a retry while the first still runs is refused
(``Conflict``); a first request that fails drops its claim, so a retry runs again.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

import redis

from memory.errors import Conflict, InvalidInput, StoreUnavailable
from memory.stores.redis import slot_tag, store_errors

_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_PENDING = "pending"


class Idempotency:
    """Claims and stored responses of idempotent requests, per tenant."""

    def __init__(self, client: redis.Redis, namespace: str, ttl_s: int = 86_400) -> None:
        self.r: Any = client
        self.ns = namespace
        self.ttl_s = ttl_s

    def _k(self, scope: str, key: str) -> str:
        if not _KEY.match(key):
            raise InvalidInput("Idempotency-Key must be 1-128 letters, digits or . _ : -")
        return f"{self.ns}:idem:{slot_tag(self.ns)}:{scope}:{key}"

    def begin(self, scope: str, key: str) -> dict[str, Any] | None:
        """The stored response of an earlier request with ``key``, or ``None`` after
        claiming it for this one."""
        k = self._k(scope, key)
        with store_errors():
            if self.r.set(k, _PENDING, nx=True, ex=self.ttl_s):
                return None
            found = self.r.get(k)
        if found is None or found == _PENDING:
            raise Conflict("a request with this Idempotency-Key is still running; retry later")
        stored: dict[str, Any] = json.loads(found)
        return stored

    def finish(self, scope: str, key: str, response: dict[str, Any]) -> None:
        with store_errors():
            self.r.set(self._k(scope, key), json.dumps(response), ex=self.ttl_s)

    def abandon(self, scope: str, key: str) -> None:
        with store_errors():
            self.r.delete(self._k(scope, key))

    def run(self, scope: str, key: str | None, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``fn()`` once per ``key`` (every time without one); a retry gets its answer."""
        if not key:
            return fn()
        done = self.begin(scope, key)
        if done is not None:
            return done
        try:
            result = fn()
        except BaseException:
            with contextlib.suppress(StoreUnavailable):
                self.abandon(scope, key)
            raise
        self.finish(scope, key, result)
        return result
