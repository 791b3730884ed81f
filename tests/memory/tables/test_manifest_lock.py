"""The ingestion manifest's writer lock on real Redis: one writer per collection."""

from __future__ import annotations

import socket

import pytest

from memory.errors import Busy
from memory.tables.manifest import SourceManifest
from overlay.services import Services


def _manifest(services: Services, collection: str = "docs") -> SourceManifest:
    return SourceManifest(services.redis.client, services.namespace, collection)


def test_a_second_writer_is_busy_and_the_message_names_no_host(services: Services) -> None:
    first, second = _manifest(services), _manifest(services)
    first.acquire(wait=0)
    try:
        with pytest.raises(Busy) as busy:
            second.acquire(wait=0)
        assert busy.value.retry_after > 0
        assert socket.gethostname() not in busy.value.message  # error bodies show no hosts
        _manifest(services, "other").acquire(wait=0)  # another collection is free
    finally:
        first.release()
    second.acquire(wait=0)  # released: the next writer gets it at once
    second.release()


def test_a_lock_left_by_a_dead_process_is_taken_over(services: Services) -> None:
    m = _manifest(services)
    dead = f"{socket.gethostname()}:{2**22 + 12345}:deadbeef"  # above Linux's pid_max
    services.redis.client.set(m._k("lock"), dead)
    m.acquire(wait=0)
    assert services.redis.client.get(m._k("lock")) != dead
    m.release()
