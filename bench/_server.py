"""Shared helpers for the API benchmarks: start ``overlay serve`` processes, percentiles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from memory.stores.localserver import free_port
from overlay.demo import wait_ready

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "examples" / "docs"
MODELS = Path(os.environ.get("OVERLAY_MODELS_DIR") or ROOT / ".cache" / "models")
OVERLAY = [sys.executable, "-c", "from overlay.cli import main; main()"]


def bench_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERLAY_")}
    env.update(
        OVERLAY_DATA_DIR=str(data_dir), OVERLAY_MODELS_DIR=str(MODELS), HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False", **extra,
    )  # fmt: skip
    return env


def start_api(env: dict[str, str], timeout: float = 300) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [*OVERLAY, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, timeout)
    except SystemExit:
        proc.kill()
        raise
    return proc, url


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def overlay(env: dict[str, str], *args: str) -> None:
    subprocess.run([*OVERLAY, *args], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values`` in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[idx] * 1000
