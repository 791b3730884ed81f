"""Client-supplied idempotency keys (the ``Idempotency-Key`` header) in Redis.

Per tenant namespace: ``<ns>:idem:{<ns>}:<len(scope)>:<scope>:<key>`` (hash-tagged like
every key; the scope's length keeps ``scope "turns:a", key "b:c"`` apart from ``scope
"turns:a:b", key "c"``) holds JSON:

- ``{"state": "pending", "fp", "owner"}`` while the first request with that key runs: a
  **lease** of ``lease_s`` seconds that a thread renews while the work lives, so a killed
  server's claim is gone within ``lease_s`` (start-up recovery clears this host's dead
  claims at once: ``clear_dead_claims``);
- ``{"state": "done", "fp", "response"}`` afterwards, for ``ttl_s`` seconds.

``fp`` is a fingerprint of the request's body: a retry with the same body gets the stored
response and writes nothing; the same key with another body is refused (``KeyReused``,
422) instead of silently answering for the first; a retry while the first still runs is
refused (``Conflict``, 409); a first request that fails drops its claim, so a retry runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import redis

from memory.errors import Conflict, InvalidInput, KeyReused, StoreUnavailable
from memory.stores.localserver import pid_alive
from memory.stores.redis import slot_tag, store_errors

_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LEASE_S = 30.0
HOST = socket.gethostname()

# Lua: renew (PEXPIRE) or delete the claim only while it is still this request's own.
_IF_OWN = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'del' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""


def fingerprint(*parts: str | bytes) -> str:
    """A digest of a request's body parts (length-prefixed, so parts never run together)."""
    import hashlib

    h = hashlib.sha256()
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        h.update(b"%d:" % len(raw) + raw)
    return h.hexdigest()


class Idempotency:
    """Claims and stored responses of idempotent requests, per tenant."""

    def __init__(
        self, client: redis.Redis, namespace: str, ttl_s: int = 86_400, lease_s: float = LEASE_S
    ) -> None:
        self.r: Any = client
        self.ns = namespace
        self.ttl_s = ttl_s
        self.lease_ms = int(lease_s * 1000)
        self._if_own = self.r.register_script(_IF_OWN)

    def _k(self, scope: str, key: str) -> str:
        if not _KEY.match(key):
            raise InvalidInput("Idempotency-Key must be 1-128 letters, digits or . _ : -")
        return f"{self.ns}:idem:{slot_tag(self.ns)}:{len(scope)}:{scope}:{key}"

    def begin(self, scope: str, key: str, fp: str = "") -> tuple[dict[str, Any] | None, str]:
        """``(stored response, "")`` of an earlier request with ``key``, or ``(None, claim)``
        after claiming the key for this request (``claim`` is what ``end`` needs)."""
        k = self._k(scope, key)
        claim = json.dumps(
            {"state": "pending", "fp": fp, "owner": f"{HOST}/{os.getpid()}/{uuid.uuid4().hex}"}
        )
        for _ in range(2):  # a claim that expires between SET and GET: claim again
            with store_errors():
                if self.r.set(k, claim, nx=True, px=self.lease_ms):
                    return None, claim
                found = self.r.get(k)
            if found is not None:
                return _stored(found, fp), ""
        raise Conflict("a request with this Idempotency-Key is still running; retry later")

    def finish(self, scope: str, key: str, response: dict[str, Any], fp: str = "") -> None:
        done = {"state": "done", "fp": fp, "response": response}
        with store_errors():
            self.r.set(self._k(scope, key), json.dumps(done), ex=self.ttl_s)

    def abandon(self, scope: str, key: str, claim: str) -> None:
        with store_errors():
            self._if_own(keys=[self._k(scope, key)], args=[claim, "del"])

    @contextlib.contextmanager
    def _leased(self, scope: str, key: str, claim: str) -> Iterator[None]:
        """Renew the claim every third of its lease while the body runs."""
        stop = threading.Event()
        k = self._k(scope, key)

        def renew() -> None:
            while not stop.wait(self.lease_ms / 3000):
                with contextlib.suppress(StoreUnavailable):
                    with store_errors():
                        if not self._if_own(keys=[k], args=[claim, self.lease_ms]):
                            return  # lost (expired during an outage): nothing to renew

        threading.Thread(target=renew, name="overlay-idem-lease", daemon=True).start()
        try:
            yield
        finally:
            stop.set()

    def run(
        self, scope: str, key: str | None, fn: Callable[[], dict[str, Any]], fp: str = ""
    ) -> dict[str, Any]:
        """``fn()`` once per ``key`` (every time without one); a retry gets its answer.
        ``fp``: the request body's ``fingerprint`` (another body under the key: 422)."""
        if not key:
            return fn()
        done, claim = self.begin(scope, key, fp)
        if done is not None:
            return done
        try:
            with self._leased(scope, key, claim):
                result = fn()
        except BaseException:
            with contextlib.suppress(StoreUnavailable):
                self.abandon(scope, key, claim)
            raise
        self.finish(scope, key, result, fp)
        return result


def _stored(found: str, fp: str) -> dict[str, Any]:
    """The stored response in ``found``, or the refusal it calls for."""
    try:
        entry = json.loads(found)
    except ValueError:  # "pending" of releases before leases
        entry = {"state": "pending"}
    if not isinstance(entry, dict) or "state" not in entry:  # a response stored before fp
        entry = {"state": "done", "response": entry}
    if fp and entry.get("fp") and entry["fp"] != fp:
        raise KeyReused(
            "this Idempotency-Key was used for a request with another body; "
            "use a new key for a new request"
        )
    if entry["state"] != "done":
        raise Conflict("a request with this Idempotency-Key is still running; retry later")
    response: dict[str, Any] = entry["response"]
    return response


def clear_dead_claims(client: Any) -> int:
    """Delete pending claims of requests whose server process on this host is gone (start-up
    recovery: a retry need not wait out the lease). Returns how many were cleared."""
    cleared = 0
    with store_errors():
        for k in client.scan_iter(match="*:idem:*", count=1000):
            found = client.get(k)
            owner = _pending_owner(found)
            if owner is None:
                continue
            host, pid = owner
            if host == HOST and (pid == os.getpid() or not pid_alive(pid)):
                cleared += int(client.eval(_IF_OWN, 1, k, found, "del"))  # still that claim
    return cleared


def _pending_owner(found: str | None) -> tuple[str, int] | None:
    try:
        entry = json.loads(found or "")
        host, pid, _ = str(entry["owner"]).split("/")
        return (host, int(pid)) if entry.get("state") == "pending" else None
    except (ValueError, KeyError, TypeError):
        return None
