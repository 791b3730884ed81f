"""An ingestion's time budget, its cancellation and its writer lock: a run that is stopped
keeps nothing, and a live run's lock never expires under it."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import ingest_text
from ingest.types import Budget
from ingest.writer import CollectionWriter
from memory.errors import BudgetExceeded, Busy, Cancelled
from memory.tables.manifest import SourceManifest
from tests.apiserver import make_app
from tests.ingest_state import store_state

TEXT = "".join(f"Paragraph {i}: barometers and gauges in Bergen.\n\n" for i in range(400))


def test_a_cancelled_run_deletes_what_it_wrote(services) -> None:
    budget = Budget(cancel=threading.Event())
    seen = []

    def progress(ev) -> None:
        if ev.stage == "vectors":
            seen.append(ev)
            budget.cancel.set()  # the client went away after the first batch was written

    with pytest.raises(Cancelled):
        ingest_text(services, "big.txt", TEXT, collection="cx", chunk_size=24, chunk_overlap=4,
                    progress=progress, budget=budget)  # fmt: skip
    assert len(seen) == 1
    state = store_state(services, "cx")
    assert state.manifest == {} and state.chroma == set() and state.sparse == set()
    state.assert_consistent()


def test_past_its_budget_an_upload_ends_with_a_clear_413_and_keeps_nothing(services) -> None:
    with TestClient(make_app(services, ingest_budget_s=0.001)) as client:
        time.sleep(0.01)
        r = client.post("/v1/documents", json={"source": "big.txt", "text": TEXT})
        assert r.status_code == 413, r.text
        err = r.json()["error"]
        assert err["type"] == "time_budget_exceeded" and "limit" in err["message"]
        assert client.get("/v1/documents").json()["documents"] == []
    store_state(services, "default").assert_consistent()


def test_budget_check_raises_past_the_deadline() -> None:
    budget = Budget(0.01)
    budget.check()
    time.sleep(0.02)
    with pytest.raises(BudgetExceeded):
        budget.check()


def test_the_writer_lock_is_renewed_while_the_run_lives(services) -> None:
    writer = CollectionWriter(services, "lk")
    writer.lock_ttl_ms = 300
    other = SourceManifest(services.redis.client, services.namespace, "lk")
    with writer:
        time.sleep(1.0)  # three TTLs: without renewal the lock would be gone
        with pytest.raises(Busy):
            other.acquire(wait=0.2, ttl_ms=300)
    other.acquire(wait=0.2, ttl_ms=300)  # released at the end
    other.release()
