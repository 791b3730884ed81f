"""``overlay serve`` as a real process: kill -9 the embedded Redis or Chroma it started;
``/readyz`` turns 200 again within seconds without restarting serve, and acknowledged
writes are still there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memory.stores.localserver import free_port
from tests.apiserver import wait_ok

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = [sys.executable, "-c", "from overlay.cli import main; main()"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERLAY_")}
    env.update(OVERLAY_PRELOAD_MODEL="false", OVERLAY_DATA_DIR=str(tmp_path / "data"))
    port = free_port()
    cmd = [*OVERLAY, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ok(f"{url}/readyz", timeout=120)
        yield url, tmp_path / "data" / "run"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _kill(run: Path, name: str) -> int:
    pid = int(json.loads((run / f"{name}.json").read_text())["pid"])
    os.kill(pid, signal.SIGKILL)
    return pid


def _restarted(url: str, run: Path, name: str, old: int, timeout: float = 20.0) -> float:
    """Seconds until a new server process is recorded and ``/readyz`` answers 200."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        pid = int(json.loads((run / f"{name}.json").read_text())["pid"])
        if pid != old and httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
            return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"{name} not back (or /readyz not 200) within {timeout} s")


def test_killed_embedded_stores_come_back_while_serve_runs(served: tuple[str, Path]) -> None:
    url, run = served
    sid = "heal"
    turns = [{"role": "user", "content": "My barometer is called Storm."}]
    r = httpx.post(f"{url}/v1/sessions/{sid}/turns", json={"turns": turns}, timeout=120)
    assert r.status_code == 200, r.text  # acknowledged
    for name in ("redis", "chroma"):
        old = _kill(run, name)
        assert _restarted(url, run, name, old) < 15
    session = httpx.get(f"{url}/v1/sessions/{sid}", timeout=30).json()
    assert session["count"] == 1  # the acknowledged turn survived the Redis kill
    found = httpx.get(
        f"{url}/v1/sessions/{sid}/memory", params={"q": "what is my barometer called?"},
        timeout=60,
    ).json()["results"]  # fmt: skip
    assert "Storm" in found[0]["text"]  # and its embedding the Chroma kill
