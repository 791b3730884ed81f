"""A write is all or nothing from the client's view: with Chroma down a turn import
answers 503 and leaves nothing in the session log; ``Idempotency-Key`` makes retries safe.
With Chroma down, sparse retrieval still works (Redis only) and says it is degraded."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from memory.stores.chroma import _chroma_binary, connect_chroma
from memory.stores.localserver import free_port, port_open
from overlay.services import Services


@pytest.fixture
def own_chroma(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A Chroma server this test may kill for good (the embedded one would heal)."""
    port = free_port()
    cmd = [*_chroma_binary(), "run", "--path", str(tmp_path / "c"), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        assert time.monotonic() < deadline, "chroma did not start"
        time.sleep(0.05)
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def _client(services: Services, url: str) -> TestClient:
    # session vectors go to Chroma at once (small sessions keep them in Redis and would not
    # notice Chroma being down)
    update = {"chroma_url": url, "preload_model": False, "memory_redis_vectors_max": 0}
    settings = services.settings.updated(**update)
    tenant = "o" + uuid.uuid4().hex[:10]
    own = Services(settings, services.redis, connect_chroma(url, settings.data_dir),
                   services.embedder, tenant=tenant)  # fmt: skip
    return TestClient(create_app(settings, services=own), base_url="http://localhost")


def test_turn_import_503_with_chroma_down_logged_nothing(services: Services, own_chroma) -> None:
    proc, url = own_chroma
    with _client(services, url) as client:
        one = [{"role": "user", "content": "My dog is called Pixel."}]
        assert client.post("/v1/sessions/s1/turns", json={"turns": one}).status_code == 200
        proc.kill()
        proc.wait()
        two = [{"role": "user", "content": "I moved to Tromsø."}]
        down = client.post("/v1/sessions/s1/turns", json={"turns": two})
        assert down.status_code == 503 and down.headers["retry-after"], down.text
        session = client.get("/v1/sessions/s1").json()
        assert session["count"] == 1, session  # the 503 wrote nothing a retry would duplicate


def test_idempotency_key_makes_a_turn_import_retry_safe(services: Services, own_chroma) -> None:
    _, url = own_chroma
    with _client(services, url) as client:
        turns = {"turns": [{"role": "user", "content": "My cat is called Tiger."}]}
        key = {"Idempotency-Key": "import-42"}
        first = client.post("/v1/sessions/s2/turns", json=turns, headers=key)
        again = client.post("/v1/sessions/s2/turns", json=turns, headers=key)
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        assert client.get("/v1/sessions/s2").json()["count"] == 1
        bad = client.post("/v1/sessions/s2/turns", json=turns, headers={"Idempotency-Key": "a b"})
        assert bad.status_code == 400


def test_sparse_retrieval_works_with_chroma_down_and_hybrid_degrades(
    services: Services, own_chroma
) -> None:
    proc, url = own_chroma
    with _client(services, url) as client:
        doc = {"source": "b.txt", "text": "Halvorsen barometers were calibrated in Bergen."}
        assert client.post("/v1/documents", json=doc).status_code == 200
        proc.kill()
        proc.wait()
        query = {"query": "barometers calibrated in Bergen", "k": 3}
        sparse = client.post("/v1/retrieve", json={**query, "method": "sparse"})
        assert sparse.status_code == 200, sparse.text
        assert "Halvorsen" in sparse.json()["results"][0]["text"]
        hybrid = client.post("/v1/retrieve", json={**query, "method": "hybrid"})
        assert hybrid.status_code == 200 and hybrid.json()["results"], hybrid.text
        from overlay.choosing.candidates import retrieve

        svc = client.app.state.services  # type: ignore[attr-defined]
        hits = retrieve(svc, query["query"], "default", 3, "hybrid")
        assert hits and all(h.metadata.get("degraded") for h in hits)
        dense = client.post("/v1/retrieve", json={**query, "method": "dense"})
        assert dense.status_code == 503 and "127.0.0.1" not in dense.text


def test_idempotency_key_on_uploads(services: Services) -> None:
    from tests.apiserver import make_app

    with TestClient(make_app(services)) as client:
        key = {"Idempotency-Key": "up-1"}
        doc = {"source": "n.txt", "text": "Gauges in Bergen."}
        first = client.post("/v1/documents", json=doc, headers=key)
        again = client.post("/v1/documents", json=doc, headers=key)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json()  # the retry wrote nothing new
        # the same key with another body is refused, never answered for the first (issue 21)
        changed = client.post("/v1/documents", json={**doc, "text": "Other."}, headers=key)
        assert changed.status_code == 422, changed.text
        assert changed.json()["error"]["type"] == "idempotency_key_reused"
        listed = client.get("/v1/documents").json()["documents"]
        import hashlib

        first_hash = hashlib.sha256(doc["text"].encode()).hexdigest()
        assert [d["content_hash"] for d in listed] == [first_hash]
