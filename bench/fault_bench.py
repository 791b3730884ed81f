"""Fault run: kill the embedded Redis, the embedded Chroma and the API server at random
moments under mixed load, for a bounded time; then count what was lost.

One ``overlay serve`` on a fresh data dir (fixed port). Clients import session turns
(with ``Idempotency-Key``), upload small documents and retrieve (sparse and hybrid) as
fast as they can. Every few seconds one target is SIGKILLed: Redis or Chroma (the server
must bring them back by itself) or the server (the bench starts it again; its start-up
recovery must finish the killed uploads). At the end: requests, errors by status,
recovery times (kill → ``/readyz`` 200), acknowledged writes lost, orphan chunks.

    python bench/fault_bench.py [--seconds 90] [--writers 3] [--readers 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from _server import OVERLAY, ROOT, bench_env

from memory.stores.chroma import chroma_name
from memory.stores.localserver import free_port


class Run:
    def __init__(self) -> None:
        self.status: Counter[str] = Counter()
        self.turns: dict[str, list[str]] = {}  # session → acknowledged turn texts
        self.docs: list[str] = []  # acknowledged sources
        self.recovery: dict[str, list[float]] = {"redis": [], "chroma": [], "server": []}
        self.stop = 0.0
        self.server: subprocess.Popen[bytes] | None = None


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    cmd = [*OVERLAY, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)


async def until_ready(c: httpx.AsyncClient, timeout: float = 300) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if (await c.get("/readyz", timeout=5)).status_code == 200:
                return time.monotonic() - t0
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the API did not become ready")


async def call(
    run: Run, c: httpx.AsyncClient, method: str, path: str, **kw
) -> httpx.Response | None:
    try:
        r = await c.request(method, path, timeout=60, **kw)
    except httpx.HTTPError:
        run.status["transport"] += 1
        await asyncio.sleep(0.2)  # the server is down: do not spin
        return None
    run.status[str(r.status_code)] += 1
    return r


async def writer(run: Run, c: httpx.AsyncClient, n: int) -> None:
    sid, i = f"s{n}", 0
    run.turns[sid] = []
    while time.monotonic() < run.stop:
        i += 1
        text = f"note {n}-{i}: the barometer in room {i} reads {i * 7 % 1000} hPa."
        body = {"turns": [{"role": "user", "content": text}]}
        r = await call(run, c, "POST", f"/v1/sessions/{sid}/turns", json=body,
                       headers={"Idempotency-Key": f"{sid}-{i}"})  # fmt: skip
        if r is not None and r.status_code == 200:
            run.turns[sid].append(text)
        if i % 4 == 0:
            source = f"doc-{n}-{i}.txt"
            doc = {"source": source, "text": f"{text}\n\n" * 40}
            r = await call(run, c, "POST", "/v1/documents", json=doc)
            if r is not None and r.status_code == 200:
                run.docs.append(source)
        await asyncio.sleep(0.02)


async def reader(run: Run, c: httpx.AsyncClient, n: int) -> None:
    while time.monotonic() < run.stop:
        method = ("sparse", "hybrid")[n % 2]
        body = {"query": "barometer reads hPa", "method": method, "k": 5}
        await call(run, c, "POST", "/v1/retrieve", json=body)
        await asyncio.sleep(0.05)


async def chaos(run: Run, c: httpx.AsyncClient, data: Path, env: dict, port: int, rnd) -> None:
    proc = run.server
    assert proc is not None
    order: list[str] = []
    while time.monotonic() < run.stop - 10:
        await asyncio.sleep(rnd.uniform(4, 8))
        order = order or rnd.sample(["redis", "chroma", "server"], 3)  # each in every round
        target = order.pop()
        if target == "server":
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            run.server = proc = start_server(env, port)
        else:
            pid = json.loads((data / "run" / f"{target}.json").read_text())["pid"]
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.3)  # let /readyz see the kill
        took = await until_ready(c)
        run.recovery[target].append(took + 0.3)
        print(f"  killed {target:6s} ready again after {took + 0.3:5.1f} s", flush=True)


def orphans(data: Path) -> tuple[int, int]:
    """Chunks in Chroma or the sparse index that no committed source owns; pending rows.
    Read through the library's own tables (attached to the data dir's servers)."""
    from memory.stores.sparse import SparseIndex
    from memory.tables.manifest import SourceManifest
    from overlay.services import Services
    from overlay.settings import Settings

    svc = Services(Settings(data_dir=data))
    try:
        manifest = SourceManifest(svc.redis.client, svc.namespace, "default")
        owned = {i for rec in manifest.all().values() for i in rec.chunk_ids}
        sparse = set(SparseIndex(svc.weights, "default").all_ids())
        col = svc.chroma.client.get_collection(chroma_name("local.default"))
        chroma = set(col.get(include=[])["ids"])
        return len((chroma | sparse) - owned), len(manifest.pending())
    finally:
        svc.close()


async def verify(run: Run, c: httpx.AsyncClient) -> tuple[int, int]:
    lost_turns = 0
    for sid, texts in run.turns.items():
        got = (await c.get(f"/v1/sessions/{sid}", params={"last": 1000}, timeout=60)).json()
        logged = [t["text"] for t in got.get("turns", [])]
        lost_turns += sum(1 for t in texts if t not in logged)
        lost_turns += len(logged) - len(set(logged))  # a duplicate counts as a wrong write
    listed = {d["source"] for d in (await c.get("/v1/documents", timeout=60)).json()["documents"]}
    return lost_turns, sum(1 for s in run.docs if s not in listed)


async def main(args: argparse.Namespace) -> None:
    rnd = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="overlay-fault-") as tmp:
        data = Path(tmp) / "data"
        env = bench_env(data, OVERLAY_PRELOAD_MODEL="false")
        port = free_port()
        run = Run()
        run.server = start_server(env, port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            await until_ready(c)
            # the first upload loads the embedder: outside the clock
            await c.post("/v1/documents", json={"source": "warm.txt", "text": "warm"}, timeout=300)
            print(f"mixed load for {args.seconds} s, killing a store or the server every 4-8 s")
            run.stop = time.monotonic() + args.seconds
            jobs = [writer(run, c, n) for n in range(args.writers)]
            jobs += [reader(run, c, n) for n in range(args.readers)]
            await asyncio.gather(*jobs, chaos(run, c, data, env, port, rnd))
            await until_ready(c)
            assert run.server is not None
            run.server.send_signal(signal.SIGTERM)  # a clean restart: start-up recovery
            run.server.wait(60)
            run.server = start_server(env, port)
            await until_ready(c)
            lost_turns, lost_docs = await verify(run, c)
            found, pending = orphans(data)
            run.server.send_signal(signal.SIGTERM)
            run.server.wait(60)
    report(run, lost_turns, lost_docs, found, pending)


def report(run: Run, lost_turns: int, lost_docs: int, found: int, pending: int) -> None:
    flags = Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0]
    simd = sorted(f for f in flags.split() if f.startswith(("avx", "amx")))
    print(f"\nCPU: {os.cpu_count()} cores; {' '.join(simd)}")
    total = sum(run.status.values())
    by = ", ".join(f"{k}: {v}" for k, v in sorted(run.status.items()))
    print(f"requests {total}  ({by})")
    print("| killed | times | recovery median s | recovery max s |\n|---|---|---|---|")
    for name, ts in run.recovery.items():
        if ts:
            ts = sorted(ts)
            print(f"| {name} | {len(ts)} | {ts[len(ts) // 2]:.1f} | {ts[-1]:.1f} |")
    acked = sum(len(t) for t in run.turns.values())
    print(f"acknowledged writes: {acked} turns, {len(run.docs)} documents")
    print(f"acknowledged writes lost: {lost_turns + lost_docs}  (turns {lost_turns}, "
          f"documents {lost_docs})")  # fmt: skip
    print(f"orphans found: {found}  (pending rows left: {pending})")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=90)
    p.add_argument("--writers", type=int, default=3)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    asyncio.run(main(p.parse_args()))
