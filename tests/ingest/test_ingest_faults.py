"""Bad input and faults: each bad source is reported, the rest go on; stores stay whole."""

from __future__ import annotations

import tracemalloc
import uuid
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths, list_sources
from memory.embeddings import HashEmbedder
from memory.errors import EmbedderMismatch, StoreUnavailable
from memory.stores.localserver import free_port
from overlay.services import Services
from overlay.settings import Settings
from overlay.turn import retrieve
from tests.ingest_state import store_state

LATIN = "Le café est très bon. La crème brûlée était délicieuse, même après le dîner."


def by_name(report) -> dict:
    return {Path(r.source).name: r for r in report.results}


def test_bad_files_fail_or_skip_one_by_one(services, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02garbage\xff" * 100)
    (tmp_path / "latin1.txt").write_bytes(LATIN.encode("latin-1"))
    (tmp_path / "broken.md").write_bytes(b"Valid start \xff\xfe then more valid text.\n")
    (tmp_path / "mostly.txt").write_bytes("Ærøskøbing — Tromsø ".encode() * 20 + b"\xff end")
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{not json}\n')
    (tmp_path / "good.txt").write_text("A perfectly good document about anemometers.")
    missing = tmp_path / "does-not-exist.md"
    report = ingest_paths(services, [tmp_path, missing], collection="bad")
    r = by_name(report)
    assert r["good.txt"].status == "new" and r["good.txt"].chunks == 1
    assert r["empty.txt"].status == "new" and r["empty.txt"].chunks == 0
    assert r["empty.txt"].reason == "no text"
    assert r["binary.txt"].status == "skipped" and "binary" in r["binary.txt"].reason
    assert r["corrupt.pdf"].status == "failed" and "PDF" in r["corrupt.pdf"].reason
    assert r["bad.jsonl"].status == "failed" and "line 2" in r["bad.jsonl"].reason
    assert r["does-not-exist.md"].status == "failed"
    assert "no such file" in r["does-not-exist.md"].reason
    assert report.failed == 3
    texts = {Path(h.source).name: h.text for h in services.vectors("bad").get()}
    assert texts["latin1.txt"] == LATIN
    assert texts["broken.md"].startswith("Valid start") and texts["broken.md"].endswith("text.")
    assert texts["mostly.txt"].startswith("Ærøskøbing — Tromsø")
    assert texts["mostly.txt"].endswith("\ufffd end")
    store_state(services, "bad").assert_consistent()


def test_a_50mb_file_is_refused_without_reading_it(base_services, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    line = b"Forty-two barometers were calibrated in the Bergen workshop today.\n"
    with open(big, "wb") as fh:
        for _ in range(50 * 2**20 // len(line) + 1):
            fh.write(line)
    assert big.stat().st_size >= 50 * 2**20
    (tmp_path / "small.txt").write_text("Small files still go in.")
    svc = Services(
        Settings(data_dir=base_services.settings.data_dir),  # the default limit users get
        base_services.redis,
        base_services.chroma,
        HashEmbedder(),
        "big" + uuid.uuid4().hex[:8],
    )
    assert ingest_paths(svc, [tmp_path / "small.txt"], collection="big").failed == 0  # warm up
    tracemalloc.start()
    report = ingest_paths(svc, [tmp_path], collection="big")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    r = by_name(report)
    limit = f"{Settings().ingest.max_file_mb:g} MB limit"
    assert r["big.txt"].status == "failed" and limit in r["big.txt"].reason, r["big.txt"].reason
    assert r["small.txt"].status == "unchanged"
    assert peak < 2 * 2**20, f"peak {peak / 2**20:.1f} MB while refusing a 50 MB file"


def test_a_collection_made_with_another_embedder_is_refused(services, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Sensors and gauges.")
    ingest_paths(services, [tmp_path], collection="emb")
    other = Services(
        services.settings,
        services.redis,
        services.chroma,
        HashEmbedder(dim=32, name="other-embedder"),
        services.tenant,
    )
    (tmp_path / "b.txt").write_text("A second file that must not go in.")
    with pytest.raises(EmbedderMismatch, match="other-embedder"):
        ingest_paths(other, [tmp_path], collection="emb")
    with pytest.raises(EmbedderMismatch):
        retrieve(other, "sensors", "emb", method="dense")
    assert [Path(s.source).name for s in list_sources(services, "emb")] == ["a.txt"]
    store_state(services, "emb").assert_consistent()
    ingest_paths(other, [tmp_path], collection="emb2")  # another collection is fine


def test_redis_down_is_a_clear_error_and_nothing_is_written(base_services, tmp_path) -> None:
    (tmp_path / "a.txt").write_text("This must not reach Chroma without Redis.")
    tenant = "down" + uuid.uuid4().hex[:8]
    settings = Settings(data_dir=tmp_path / "data", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    svc = Services(settings, chroma=base_services.chroma, embedder=HashEmbedder(), tenant=tenant)
    with pytest.raises(StoreUnavailable, match="not reachable"):
        ingest_paths(svc, [tmp_path], collection="down")
    seen = base_services.for_tenant(tenant)
    assert not seen.vectors("down").exists()
    assert list_sources(seen, "down") == []
