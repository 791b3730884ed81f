"""Cold ``overlay retrieve`` (no server running): wall time before vs after, and where it goes.

    python bench/cold_cli_bench.py [--runs 3] [--before 76e93ca] [--probe-runs 1]

One data dir (``examples/docs`` ingested once), one query, each run a fresh process with
neither ``overlay serve`` nor the embedded stores running (the CLI starts the embedded Redis
and ``chroma run``, and stops them again as their last user: the bench checks they are gone
before the next run). Variants, run in turn, round after round, so load drifts hit them alike:

- ``before``: the tree at ``--before`` (``git archive`` into a temp dir), on this venv;
- ``after, torch``: this tree with ``OVERLAY_EMBED_RUNTIME=torch`` (the query through torch,
  as before: what the other levers alone give);
- ``after``: this tree as configured by default (the query encoder in numpy, no torch).

Prints the CPU, its flags and the load, the median wall times, one probed run per variant
(``bench/_cold_probe.py``: when each phase starts and ends), and the serial import cost of
the heavy modules (``python -X importtime``, median of fresh processes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUERY = ["retrieve", "parental leave", "-k", "5", "--json"]
FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def cpu() -> str:
    info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in info if ln.startswith("flags")), [])
    have = " ".join(f for f in FLAGS if f in flags) or "none of " + " ".join(FLAGS)
    return f"{model}; {os.cpu_count()} cores; flags: {have}; load {os.getloadavg()[0]:.2f}"


def tree_at(rev: str) -> Path:
    out = Path(tempfile.mkdtemp(prefix="overlay-before-"))
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out


def env_for(tree: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OVERLAY_EMBED_RUNTIME"}
    return {**env, "PYTHONPATH": str(tree), **extra}


def stores_gone(data: Path, timeout: float = 20.0) -> None:
    """Wait until the run dir names no live server (the last user stops them at exit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = []
        for name in ("redis", "chroma"):
            try:
                pid = json.loads((data / "run" / f"{name}.json").read_text())["pid"]
                os.kill(pid, 0)
                live.append(name)
            except (OSError, ValueError, KeyError):
                pass
        if not live:
            return
        time.sleep(0.1)
    raise SystemExit(f"embedded stores still running in {data}: not a cold start")


def cold_run(tree: Path, data: Path, extra: dict[str, str]) -> float:
    stores_gone(data)
    argv = [sys.executable, "-m", "overlay.cli", "--data-dir", str(data), *QUERY]
    start = time.perf_counter()
    run = subprocess.run(argv, cwd=tree, env=env_for(tree, extra), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if run.returncode != 0 or not json.loads(run.stdout)["results"]:
        raise SystemExit(f"retrieve failed ({run.returncode}): {run.stderr[-1500:]}")
    return wall


def probe(tree: Path, data: Path, extra: dict[str, str]) -> dict:
    stores_gone(data)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    argv = [sys.executable, str(REPO / "bench" / "_cold_probe.py"), out, "--data-dir", str(data)]
    start = time.perf_counter()
    run = subprocess.run([*argv, *QUERY], cwd=tree, env=env_for(tree, extra),
                         capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"probe failed: {run.stderr[-1500:]}")
    result = json.loads(Path(out).read_text())
    os.unlink(out)
    return {**result, "wall": wall}


def import_cost(tree: Path, module: str, runs: int) -> float:
    """Median cumulative ``-X importtime`` of ``module`` alone in a fresh process (s)."""
    times = []
    for _ in range(runs):
        argv = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
        run = subprocess.run(argv, cwd=tree, env=env_for(tree, {}), capture_output=True, text=True)
        last = [ln for ln in run.stderr.splitlines() if ln.rstrip().endswith(f"| {module}")]
        times.append(int(last[-1].split("|")[1]) / 1e6)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="rounds of the timed runs")
    ap.add_argument("--before", default="76e93ca", help="git revision of the 'before' tree")
    ap.add_argument("--probe-runs", type=int, default=1, help="probed runs per variant")
    args = ap.parse_args()

    before = tree_at(args.before)
    variants = {
        "before": (before, {}),
        "after, torch": (REPO, {"OVERLAY_EMBED_RUNTIME": "torch"}),
        "after": (REPO, {}),
    }
    data = Path(tempfile.mkdtemp(prefix="overlay-cold-"))
    ingest = [sys.executable, "-m", "overlay.cli", "--data-dir", str(data), "ingest",
              str(REPO / "examples" / "docs")]  # fmt: skip
    subprocess.run(ingest, cwd=REPO, env=env_for(REPO, {}), check=True, capture_output=True)
    print(f"CPU: {cpu()}")
    walls: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.runs):
        for name, (tree, extra) in variants.items():
            walls[name].append(cold_run(tree, data, extra))
    print(f"load after the timed runs: {os.getloadavg()[0]:.2f}\n")
    print(f"| variant | median of {args.runs} (s) | runs (s) |\n|---|---|---|")
    for name, ws in walls.items():
        print(f"| {name} | {statistics.median(ws):.2f} | {' '.join(f'{w:.2f}' for w in ws)} |")

    for name, (tree, extra) in variants.items():
        for _ in range(args.probe_runs):
            p = probe(tree, data, extra)
            heavy = ", ".join(m for m, yes in p["imported"].items() if yes) or "none"
            print(f"\n{name}: probed run {p['wall']:.2f} s wall; imported: {heavy}")
            print("| phase | start (s) | end (s) | took (s) |\n|---|---|---|---|")
            for s in sorted(p["spans"], key=lambda s: s["start"]):
                took = s["end"] - s["start"]
                print(f"| {s['phase']} | {s['start']:.2f} | {s['end']:.2f} | {took:.2f} |")
            print(f"| exit | | {p['exit']:.2f} | |")

    print("\nimport cost alone, fresh process, median of 3 (s):")
    print("| module | before | after |\n|---|---|---|")
    for module in ("overlay.cli", "chromadb", "torch", "redis", "memory.bert_numpy"):
        ours = module.split(".")[0] in ("overlay", "memory")
        cost = [
            f"{import_cost(tree, module, 3):.2f}"
            if not ours or (tree / (module.replace(".", "/") + ".py")).exists()
            else "—"
            for tree in (before, REPO)
        ]
        print(f"| {module} | {cost[0]} | {cost[1]} |")


if __name__ == "__main__":
    main()
