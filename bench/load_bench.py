"""Load run: 32 concurrent clients on lookups for 60 s, chat turns at a lower rate alongside.

One ``overlay serve`` process (embedded Redis and Chroma servers, real MiniLM and
SmolLM2) serves the bundled samples. Phase 1 runs the lookups alone; phase 2 runs
them again while a chat client sends turns back to back, so the table shows
what the model's work costs the lookups (it runs off the event loop, on its own
queue). Prints throughput, errors and p50/p95/p99 per endpoint.

    python bench/load_bench.py [--clients 32] [--seconds 60] [--baseline-seconds 20]
                               [--torch-threads 1,2] [--lookup-threads 0,16]
                               [--batch-threads 1,0]

``--torch-threads`` / ``--lookup-threads`` / ``--batch-threads`` run the whole load once per
value (a fresh server each, ``OVERLAY_TORCH_THREADS`` / ``OVERLAY_API__LOOKUP_THREADS`` /
``OVERLAY_BATCH_THREADS``; 0 = Overlay's default from the core count) and end with one line
per setting: chat p50, lookup p99, errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
from _server import DOCS, bench_env, overlay, pct, start_api, stop

QUERIES = [
    "paid annual leave", "who founded the company", "support phone hours",
    "product price list", "remote work policy", "warranty on instruments",
]  # fmt: skip
CHAT = ["How many days of paid annual leave do employees get?", "Who founded Halvorsen?"]


def _lookup(i: int) -> tuple[str, str, str, dict]:
    q = random.choice(QUERIES)
    kind = i % 3
    if kind == 0:
        return "retrieve", "POST", "/v1/retrieve", {"json": {"query": q, "k": 5}}
    if kind == 1:
        return "memory", "GET", "/v1/sessions/load-0/memory", {"params": {"q": q, "k": 5}}
    return "facts", "GET", "/v1/facts", {"params": {"subject": f"item {i % 50}"}}


async def _client(c: httpx.AsyncClient, n: int, until: float, stats: dict) -> None:
    i = n
    while time.monotonic() < until:
        name, method, path, kw = _lookup(i)
        i += 1
        t0 = time.perf_counter()
        try:
            r = await c.request(method, path, **kw)
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        stats[name]["lat"].append(time.perf_counter() - t0)
        stats[name]["err"] += 0 if ok else 1


async def _chatter(c: httpx.AsyncClient, until: float, stats: dict) -> None:
    n = 0
    while time.monotonic() < until:
        body = {"model": "overlay", "messages": [{"role": "user", "content": CHAT[n % 2]}],
                "user": f"load-chat-{n % 4}"}  # fmt: skip
        t0 = time.perf_counter()
        try:
            r = await c.post("/v1/chat/completions", json=body, timeout=300)
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        stats["chat"]["lat"].append(time.perf_counter() - t0)
        stats["chat"]["err"] += 0 if ok else 1
        n += 1
        await asyncio.sleep(1.0)


async def _phase(url: str, clients: int, seconds: float, chat: bool) -> dict:
    stats: dict = defaultdict(lambda: {"lat": [], "err": 0})
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
        until = time.monotonic() + seconds
        tasks = [_client(c, n, until, stats) for n in range(clients)]
        if chat:
            tasks.append(_chatter(c, until, stats))
        await asyncio.gather(*tasks)
    return dict(stats)


def _seed(url: str) -> None:
    with httpx.Client(base_url=url, timeout=120) as c:
        turns = [{"role": "user", "content": f"Note {i}: my favourite {QUERIES[i % 6]} fact."}
                 for i in range(40)]  # fmt: skip
        c.post("/v1/sessions/load-0/turns", json={"turns": turns}).raise_for_status()
        for i in range(50):
            fact = {"subject": f"item {i}", "relation": "colour", "object": f"colour {i}"}
            c.post("/v1/facts", json=fact).raise_for_status()


def _report(title: str, stats: dict, seconds: float) -> None:
    print(f"\n{title}")
    print(f"{'endpoint':<10} {'requests':>9} {'errors':>7} {'req/s':>8} "
          f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")  # fmt: skip
    for name in ("retrieve", "memory", "facts", "chat"):
        if name not in stats:
            continue
        lat, err = stats[name]["lat"], stats[name]["err"]
        print(f"{name:<10} {len(lat):>9} {err:>7} {len(lat) / seconds:>8.1f} "
              f"{pct(lat, 50):>8.1f} {pct(lat, 95):>8.1f} {pct(lat, 99):>8.1f}")  # fmt: skip


def run(args: argparse.Namespace, extra_env: dict[str, str]) -> dict[str, float]:
    """One whole load (lookups alone, then with chat) on a fresh server; its summary."""
    with tempfile.TemporaryDirectory(prefix="overlay-load-") as tmp:
        env = bench_env(Path(tmp), OVERLAY_MAX_QUEUE="64", **extra_env)
        overlay(env, "ingest", str(DOCS))
        proc, url = start_api(env)
        try:
            _seed(url)
            asyncio.run(_phase(url, 4, 5, chat=False))  # warm-up: caches, connections
            base = asyncio.run(_phase(url, args.clients, args.baseline_seconds, chat=False))
            _report(f"lookups only: {args.clients} clients, {args.baseline_seconds:.0f} s",
                    base, args.baseline_seconds)  # fmt: skip
            full = asyncio.run(_phase(url, args.clients, args.seconds, chat=True))
            _report(f"lookups + chat: {args.clients} clients + 1 chat client, "
                    f"{args.seconds:.0f} s", full, args.seconds)  # fmt: skip
        finally:
            stop(proc)
    errors = sum(s["err"] for s in full.values())
    p99 = {n: pct(full[n]["lat"], 99) / max(pct(base[n]["lat"], 99), 1e-9)
           for n in ("retrieve", "memory", "facts")}  # fmt: skip
    ratios = ", ".join(f"{n} {r:.2f}x" for n, r in p99.items())
    print(f"\nerrors: {errors}; lookup p99 with chat running / without: {ratios}")
    lookups = [x for n in ("retrieve", "memory", "facts") for x in full[n]["lat"]]
    return {"chat p50 ms": pct(full["chat"]["lat"], 50), "chat turns": len(full["chat"]["lat"]),
            "lookup p99 ms": pct(lookups, 99), "lookups/s": len(lookups) / args.seconds,
            "errors": errors}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--baseline-seconds", type=float, default=20)
    ap.add_argument("--torch-threads", default="", help="comma-separated values to compare")
    ap.add_argument("--lookup-threads", default="", help="comma-separated values to compare")
    ap.add_argument("--batch-threads", default="", help="comma-separated values to compare")
    args = ap.parse_args()
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    settings = [({}, "defaults")]
    for name, env in (("torch-threads", "OVERLAY_TORCH_THREADS"),
                      ("lookup-threads", "OVERLAY_API__LOOKUP_THREADS"),
                      ("batch-threads", "OVERLAY_BATCH_THREADS")):  # fmt: skip
        values = [v for v in getattr(args, name.replace("-", "_")).split(",") if v.strip()]
        if values:
            settings = [({env: v.strip()}, f"{name} {v.strip()}") for v in values]
    rows = []
    for extra, label in settings:
        print(f"\n=== {label} ===", flush=True)
        rows.append((label, run(args, extra)))
    if len(rows) > 1:
        print("\n| setting | chat p50 ms | chat turns | lookups/s | lookup p99 ms | errors |")
        print("|---|---|---|---|---|---|")
        for label, r in rows:
            cells = [r["chat p50 ms"], r["chat turns"], r["lookups/s"], r["lookup p99 ms"],
                     r["errors"]]  # fmt: skip
            print(f"| {label} | " + " | ".join(f"{c:.0f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
