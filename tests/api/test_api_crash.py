"""``POST /v1/documents`` killed mid-write (kill -9 of ``overlay serve`` while the upload's
chunks are going into Chroma): after a restart no retrieval path returns a chunk of it,
and start-up recovery has deleted them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import redis

from memory.stores.chroma import chroma_name
from memory.stores.localserver import free_port
from memory.stores.redis import slot_tag
from tests.apiserver import wait_ok

ROOT = Path(__file__).resolve().parents[2]
PENDING = f"ov:local:ingest:{slot_tag('ov:local', 'default')}:pending"  # the manifest's key
OVERLAY = [sys.executable, "-c", "from overlay.cli import main; main()"]


def _serve(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERLAY_")}
    env.update(OVERLAY_PRELOAD_MODEL="false", OVERLAY_DATA_DIR=str(data))
    port = free_port()
    cmd = [*OVERLAY, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    wait_ok(f"{url}/readyz", timeout=120)
    return proc, url


def _chunks_in_chroma(run: Path) -> int:
    import chromadb

    port = json.loads((run / "chroma.json").read_text())["port"]
    client = chromadb.HttpClient(host="127.0.0.1", port=port)
    try:
        return client.get_collection(chroma_name("local.default")).count()
    except Exception:  # not created yet
        return 0


def test_upload_killed_mid_write_leaves_nothing_retrievable(tmp_path: Path) -> None:
    data, run = tmp_path / "data", tmp_path / "data" / "run"
    proc, url = _serve(data)
    port = json.loads((run / "redis.json").read_text())["port"]
    r = redis.Redis(port=port, decode_responses=True)
    text = "".join(
        f"Section {i}: the Halvorsen barometer model {i} was calibrated in Bergen in {1900 + i}."
        f" Its gauge {i} reads pressure, humidity and the weather of day {i}.\n\n"
        for i in range(3000)
    )
    upload = threading.Thread(
        target=lambda: httpx.post(
            f"{url}/v1/documents", json={"source": "big.txt", "text": text}, timeout=600
        ),
        daemon=True,
    )
    try:
        upload.start()
        deadline = time.monotonic() + 300
        while not (r.exists(PENDING) and _chunks_in_chroma(run) > 0):
            assert time.monotonic() < deadline, "the upload never started writing"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert _chunks_in_chroma(run) > 0  # the killed run left uncommitted chunks behind
    proc, url = _serve(data)  # start-up recovery runs before the first request
    try:
        assert httpx.get(f"{url}/v1/documents").json()["documents"] == []
        for method in ("dense", "sparse", "hybrid"):
            body = {"query": "Halvorsen barometer calibrated in Bergen", "method": method, "k": 20}
            got = httpx.post(f"{url}/v1/retrieve", json=body, timeout=120)
            assert got.status_code == 200 and got.json()["results"] == [], got.text
        assert _chunks_in_chroma(run) == 0 and not r.exists(PENDING)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
