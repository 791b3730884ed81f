"""``Services``: parts connect lazily, each behind its own lock, and ``prefetch`` starts them
in the background (a cold CLI command overlaps the stores' start-up with the embedder)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from memory.errors import InvalidInput
from overlay.services import build_services
from overlay.settings import Settings
from tests.conftest import MODELS_DIR


def test_prefetch_connects_the_stores_in_the_background(tmp_path: Path) -> None:
    svc = build_services(Settings(data_dir=tmp_path, models_dir=MODELS_DIR))
    try:
        assert svc._s.redis is None and svc._s.chroma is None  # nothing connected yet
        threads = svc.prefetch("redis", "chroma")
        assert all(t.daemon for t in threads)
        svc.close()  # waits for what it started, then closes it
        assert all(not t.is_alive() for t in threads) and not svc._s.prefetching
        assert svc._s.redis is None and svc._s.chroma is None  # closed, not left running
        assert svc._s.owned == set()
        svc.prefetch("redis", "chroma")
        for t in svc._s.prefetching:
            t.join(timeout=120)
        assert svc._s.redis is not None and svc._s.chroma is not None
        assert svc.redis.ping() and svc.chroma.ping()
    finally:
        svc.close()


def test_a_loading_part_does_not_block_the_others(tmp_path: Path) -> None:
    svc = build_services(Settings(data_dir=tmp_path, models_dir=MODELS_DIR))
    loading, done = threading.Event(), threading.Event()

    def hold_embedder() -> None:  # as if the embedder were loading in another thread
        with svc._s.locks["embedder"]:
            loading.set()
            done.wait(timeout=120)

    holder = threading.Thread(target=hold_embedder, daemon=True)
    holder.start()
    try:
        assert loading.wait(timeout=10)
        connect = threading.Thread(target=lambda: svc.redis.ping(), daemon=True)
        connect.start()
        connect.join(timeout=60)
        assert not connect.is_alive(), "Redis waited for the embedder's lock"
        assert svc._s.redis is not None
    finally:
        done.set()
        holder.join(timeout=10)
        svc.close()


def test_prefetch_refuses_an_unknown_part(tmp_path: Path) -> None:
    svc = build_services(Settings(data_dir=tmp_path, models_dir=MODELS_DIR))
    with pytest.raises(InvalidInput, match="unknown part 'gpu'"):
        svc.prefetch("redis", "gpu")
