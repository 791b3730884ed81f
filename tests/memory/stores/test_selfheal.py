"""Embedded stores heal themselves: a SIGKILLed Redis or Chroma comes back on its port,
acknowledged Redis writes survive (AOF), and clients reconnect without being rebuilt."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from memory.stores.chroma import connect_chroma
from memory.stores.localserver import server_alive
from memory.stores.redis import connect_redis


def _wait(check, timeout: float = 30.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if check():
                return time.monotonic() - t0
        except Exception:  # a client error while the server restarts: keep polling
            pass
        time.sleep(0.05)
    raise TimeoutError("the server did not come back")


def test_killed_embedded_redis_restarts_on_its_port_without_losing_acked_writes(
    tmp_path: Path,
) -> None:
    store = connect_redis(None, tmp_path)
    try:
        assert store.handle is not None
        first = store.handle.server
        for i in range(200):
            store.client.set(f"k{i}", i)  # each acknowledged
        os.kill(first.pid, signal.SIGKILL)
        took = _wait(lambda: store.ping() and store.client.get("k199") == "199")
        assert took < 10
        again = store.handle.server
        assert again.port == first.port and again.pid != first.pid and server_alive(again)
        assert [store.client.get(f"k{i}") for i in range(200)] == [str(i) for i in range(200)]
        assert store.handle.restarts == 1
    finally:
        store.close()


def test_killed_embedded_chroma_restarts_and_keeps_its_collections(tmp_path: Path) -> None:
    store = connect_chroma(None, tmp_path)
    try:
        assert store.handle is not None
        col = store.client.get_or_create_collection("keep", embedding_function=None)
        col.upsert(ids=["a"], documents=["alpha"], embeddings=[[0.1, 0.2, 0.3]])
        first = store.handle.server
        os.kill(first.pid, signal.SIGKILL)
        took = _wait(lambda: store.ping())
        assert took < 20
        assert store.handle.server.port == first.port
        again = store.client.get_collection("keep", embedding_function=None)
        assert again.get(ids=["a"])["documents"] == ["alpha"]
    finally:
        store.close()
