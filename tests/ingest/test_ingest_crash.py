"""A run SIGKILLed at any moment, then run again, ends with exactly the right chunks.

The killed run is a real subprocess on the session's data dir (it attaches to
the same embedded Redis and Chroma servers). It kills itself with SIGKILL at
the n-th progress event of a stage, so every interesting moment is hit
deterministically: after the pending record, between the Chroma upsert and the
sparse postings, after the commit but before the old chunks are deleted, in
the middle of a prune.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from overlay.services import Services
from tests.ingest_state import store_state

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    from memory.embeddings import HashEmbedder
    from overlay.services import Services
    from overlay.settings import Settings
    from ingest.pipeline import ingest_paths

    data_dir, tenant, coll, stage, nth, folder = sys.argv[1:]
    svc = Services(Settings(data_dir=data_dir), embedder=HashEmbedder(), tenant=tenant)
    seen = 0

    def progress(ev):
        global seen
        if ev.stage == stage:
            seen += 1
            if seen == int(nth):
                os.kill(os.getpid(), signal.SIGKILL)

    report = ingest_paths(svc, [folder], collection=coll, chunk_size=24, chunk_overlap=4,
                          prune=True, progress=progress)
    print(json.dumps(report.to_dict()["sources"]))
    """
)

KILL_POINTS = [
    ("pending", 1),  # pending written, nothing upserted
    ("vectors", 2),  # in Chroma, not yet in the sparse index
    ("sparse", 3),  # a few batches of a long source fully written, not committed
    ("committed", 1),  # new version committed, old chunks not yet deleted
    ("collected", 2),  # one source finished, the next not started
]


@pytest.fixture
def services(services_both: Services) -> Services:
    """Every test here runs on the single Redis server and on the Redis Cluster."""
    return services_both


def write_version(folder: Path, version: int) -> None:
    """Version 1: a, b, c. Version 2: a changed, b unchanged, c gone, d new."""
    for f in folder.glob("*.txt"):
        f.unlink()
    para = "Paragraph {i} of {name} v{v}: sensors, gauges and barometers in Bergen.\n\n"
    sources = {"a": 120, "b": 10, "c": 30} if version == 1 else {"a": 140, "b": 10, "d": 40}
    for name, n in sources.items():
        v = 1 if name == "b" else version
        text = "".join(para.format(i=i, name=name, v=v) for i in range(n))
        (folder / f"{name}.txt").write_text(text)


def run_killed(services, coll: str, folder: Path, stage: str, nth: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if services.settings.redis_cluster:  # the killed run joins the same Redis Cluster
        env |= {"OVERLAY_REDIS_URL": services.settings.redis_url, "OVERLAY_REDIS_CLUSTER": "true"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(services.settings.data_dir),
            services.tenant,
            coll,
            stage,
            str(nth),
            str(folder),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    return proc.returncode


KW = {"collection": "crash", "chunk_size": 24, "chunk_overlap": 4, "prune": True}


def _v1_then_killed_v2(services: Services, tmp_path: Path, stage: str, nth: int) -> Path:
    """Version 1 ingested (and consistent), then an ingest of version 2 SIGKILLed at
    ``stage``; returns the documents' folder."""
    folder = tmp_path / "docs"
    folder.mkdir()
    write_version(folder, 1)
    ingest_paths(services, [folder], **KW)
    store_state(services, "crash").assert_consistent()
    write_version(folder, 2)
    run_killed(services, "crash", folder, stage, nth)
    return folder


@pytest.mark.parametrize("stage,nth", KILL_POINTS)
def test_sigkill_then_rerun_leaves_exactly_the_right_chunks(
    services, tmp_path: Path, stage: str, nth: int
) -> None:
    folder = _v1_then_killed_v2(services, tmp_path, stage, nth)
    killed = store_state(services, "crash")
    if stage != "collected":  # the kill left work for the next run to reconcile
        assert killed.pending or killed.garbage
    # nothing committed was lost: every source has all the chunks of one version
    for source, ids in killed.manifest.items():
        assert set(ids) <= killed.chroma and set(ids) <= killed.sparse, source

    report = ingest_paths(services, [folder], **KW)
    assert report.failed == 0
    after = store_state(services, "crash")
    after.assert_consistent()

    ingest_paths(services, [folder], collection="reference", chunk_size=24, chunk_overlap=4)
    reference = store_state(services, "reference")
    assert after.manifest == reference.manifest
    assert after.chroma == reference.chroma and after.sparse == reference.sparse


@pytest.mark.parametrize("stage,nth", KILL_POINTS)
def test_retrieval_never_returns_uncommitted_chunks_and_recovery_finishes(
    services, tmp_path: Path, stage: str, nth: int
) -> None:
    from ingest.recover import recover, unfinished
    from overlay.choosing.candidates import retrieve

    _v1_then_killed_v2(services, tmp_path, stage, nth)
    killed = store_state(services, "crash")
    orphans = killed.chroma - killed.manifest_ids
    if stage in ("vectors", "sparse", "committed"):
        assert orphans, "the kill should have left uncommitted or obsolete chunks in Chroma"
    query = "Paragraph of a d v2 v1 sensors gauges barometers Bergen"
    for method in ("dense", "sparse", "hybrid"):
        ids = {h.id for h in retrieve(services, query, "crash", k=200, method=method)}
        assert ids and ids <= killed.manifest_ids, (method, len(ids - killed.manifest_ids))

    mine = (services.namespace, "crash")
    if stage != "collected":
        assert mine in set(unfinished(services.redis.client))
    recover(services, lambda ns: services if ns == services.namespace else None)
    store_state(services, "crash").assert_consistent()  # start-up recovery finished the work
    assert mine not in set(unfinished(services.redis.client))
