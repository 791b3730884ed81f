"""One contract, every backend: Chroma as a `chroma run` server and in-process, Redis as
one server and as a 3-master Redis Cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import ingest_paths, remove_source
from memory.embeddings import HashEmbedder
from memory.errors import EmbedderMismatch, InvalidInput
from memory.stores.chroma import ChromaStore, connect_chroma
from memory.stores.redis import RedisStore
from memory.stores.vectors import VectorStore
from overlay.services import Services
from overlay.turn import retrieve

TEXTS = {
    "p1": "pressure sensor calibration in the lab",
    "p2": "anemometer wind speed measurement",
    "p3": "barometer readings fall before a storm",
    "p4": "the cafeteria serves lunch at noon",
}


@pytest.fixture(params=["server", "inprocess"])
def chroma(request, base_services, tmp_path_factory) -> Iterator[ChromaStore]:
    if request.param == "server":
        yield base_services.chroma
    else:
        store = connect_chroma(None, tmp_path_factory.mktemp("inproc"), mode="inprocess")
        yield store
        store.close()


@pytest.fixture(params=["single", "cluster"])
def redis_store(request, base_services) -> RedisStore:
    if request.param == "cluster":
        return request.getfixturevalue("cluster_base_services").redis
    return base_services.redis


def test_vector_store_contract(chroma: ChromaStore) -> None:
    emb = HashEmbedder()
    vs = VectorStore(chroma, "contract-" + uuid.uuid4().hex[:8], emb)
    ids = list(TEXTS)
    metas = [{"source": f"s{i % 2}", "n": i, "tags": ["x"], "none": None} for i in range(4)]
    vs.add(ids, list(TEXTS.values()), metas)
    assert vs.count() == 4 and sorted(vs.ids()) == sorted(ids)
    hits = vs.search(TEXTS["p3"], k=2)
    assert hits[0].id == "p3" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].source == "s0" and hits[0].metadata["tags"] == "['x']"
    assert "none" not in hits[0].metadata
    assert sorted(vs.ids(where={"source": "s1"})) == ["p2", "p4"]
    vs.add(["p1"], ["replaced text about gauges"], [{"source": "s0"}])  # upsert
    assert vs.count() == 4 and vs.get(ids=["p1"])[0].text == "replaced text about gauges"
    vec = emb.embed(["wind speed"])[0]
    assert vs.search(vec, k=1)[0].id == "p2"
    vs.delete(ids=["p1", "unknown"])
    vs.delete(where={"source": "s1"})
    assert vs.ids() == ["p3"]
    with pytest.raises(EmbedderMismatch):
        _ = VectorStore(chroma, vs.name, HashEmbedder(dim=32, name="other")).col
    with pytest.raises(InvalidInput, match="shape"):
        vs.add(["z"], ["z"], [{}], embeddings=np.zeros((1, 3), dtype=np.float32))
    vs.drop()
    assert not vs.exists()


def test_ingest_and_retrieve_contract(
    chroma: ChromaStore, redis_store: RedisStore, base_services, tmp_path: Path
) -> None:
    svc = Services(
        base_services.settings,
        redis_store,
        chroma,
        HashEmbedder(),
        "c" + uuid.uuid4().hex[:10],
    )
    for name, text in TEXTS.items():
        (tmp_path / f"{name}.txt").write_text(text)
    assert ingest_paths(svc, [tmp_path], collection="kb").count("new") == 4
    for method in ("dense", "sparse", "hybrid"):
        hits = retrieve(svc, "barometer storm readings", "kb", k=2, method=method)
        assert Path(hits[0].source).name == "p3.txt", method
    remove_source(svc, str(tmp_path / "p3.txt"), "kb")
    for method in ("dense", "sparse", "hybrid"):
        hits = retrieve(svc, "barometer storm readings", "kb", k=4, method=method)
        assert all(Path(h.source).name != "p3.txt" for h in hits), method
