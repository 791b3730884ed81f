"""Fault run: kill the embedded Redis, the embedded Chroma and the API server, and stall
(SIGSTOP) Redis and Chroma, under mixed load; then count, per fault, what it cost.

One ``overlay serve`` on a fresh data dir (fixed port). Clients import session turns
(with ``Idempotency-Key``), upload small documents and retrieve (sparse and hybrid) as
fast as they can; a prober asks ``/readyz`` every second. Each fault of the plan hits once,
in random order, 4-8 s apart: Redis or Chroma SIGKILLed (the server must bring them back by
itself), the server SIGKILLed (the bench starts it again; start-up recovery must finish
the killed uploads), Redis or Chroma SIGSTOPped for ``--stall`` seconds, then SIGCONTed.
Per fault (the requests started from its hit until ``/readyz`` was 200 again): requests,
errors by status, the longest request, ``/readyz`` answers, acknowledged writes lost; then
the orphans left at the end. Targets: no request blocked longer than its store timeout
+ 5 s (Redis 2 × 3 s, Chroma 15 s), 0 lost, 0 orphans, 0 × 500.

    python bench/fault_bench.py [--stall 30] [--writers 3] [--readers 2] [--seed 1]
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
from dataclasses import dataclass
from pathlib import Path

import httpx
from _server import OVERLAY, ROOT, bench_env

from memory.stores.chroma import chroma_name
from memory.stores.localserver import free_port

PLAN = ["redis", "chroma", "server", "stop-redis", "stop-chroma"]


@dataclass
class Fault:
    name: str
    t0: float
    t1: float = float("inf")  # /readyz 200 again


class Run:
    def __init__(self) -> None:
        self.calls: list[tuple[float, float, str, str]] = []  # start, seconds, status, route
        self.ready: list[tuple[float, float, int]] = []  # /readyz: start, seconds, status
        self.turns: dict[str, list[tuple[str, float]]] = {}  # session → (acked text, when)
        self.docs: list[tuple[str, float]] = []  # acknowledged sources, when
        self.faults: list[Fault] = []
        self.stop = 0.0
        self.server: subprocess.Popen[bytes] | None = None

    def fault_at(self, t: float) -> str:
        """The fault whose window holds ``t`` ("calm" between faults)."""
        return next((f.name for f in self.faults if f.t0 <= t <= f.t1), "calm")


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    cmd = [*OVERLAY, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
    log = env.get("FAULT_BENCH_LOG")  # the servers' warnings and errors, to read afterwards
    err = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=err)


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
    t0, route = time.monotonic(), f"{method} {path.split('/')[2]}"
    try:
        r = await c.request(method, path, timeout=120, **kw)
    except httpx.HTTPError as exc:  # the server is down (or closed a kept-alive connection)
        run.calls.append((t0, time.monotonic() - t0, f"transport ({type(exc).__name__})", route))
        await asyncio.sleep(0.2)  # do not spin
        return None
    run.calls.append((t0, time.monotonic() - t0, str(r.status_code), route))
    return r


async def prober(run: Run, c: httpx.AsyncClient) -> None:
    while time.monotonic() < run.stop:
        t0 = time.monotonic()
        try:
            status = (await c.get("/readyz", timeout=10)).status_code
        except httpx.HTTPError:
            status = 0
        run.ready.append((t0, time.monotonic() - t0, status))
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))


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
            run.turns[sid].append((text, time.monotonic()))
        if i % 4 == 0:
            source = f"doc-{n}-{i}.txt"
            doc = {"source": source, "text": f"{text}\n\n" * 40}
            r = await call(run, c, "POST", "/v1/documents", json=doc)
            if r is not None and r.status_code == 200:
                run.docs.append((source, time.monotonic()))
        await asyncio.sleep(0.02)


async def reader(run: Run, c: httpx.AsyncClient, n: int) -> None:
    while time.monotonic() < run.stop:
        method = ("sparse", "hybrid")[n % 2]
        body = {"query": "barometer reads hPa", "method": method, "k": 5}
        await call(run, c, "POST", "/v1/retrieve", json=body)
        await asyncio.sleep(0.05)


async def chaos(run: Run, c: httpx.AsyncClient, data: Path, env: dict, port: int, rnd,
                stall: float) -> None:  # fmt: skip
    for target in rnd.sample(PLAN, len(PLAN)):
        await asyncio.sleep(rnd.uniform(4, 8))
        fault = Fault(target, time.monotonic())
        run.faults.append(fault)
        if target == "server":
            assert run.server is not None
            run.server.send_signal(signal.SIGKILL)
            run.server.wait()
            run.server = start_server(env, port)
        else:
            store = target.removeprefix("stop-")
            pid = json.loads((data / "run" / f"{store}.json").read_text())["pid"]
            os.kill(pid, signal.SIGSTOP if target.startswith("stop-") else signal.SIGKILL)
            if target.startswith("stop-"):
                await asyncio.sleep(stall)
                os.kill(pid, signal.SIGCONT)
        await asyncio.sleep(0.3)  # let /readyz see it
        await until_ready(c)
        fault.t1 = time.monotonic()
        print(f"  {target:11s} ready again {fault.t1 - fault.t0:5.1f} s after the hit", flush=True)
    run.stop = time.monotonic() + 5


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


async def verify(run: Run, c: httpx.AsyncClient) -> list[tuple[str, float]]:
    """Acknowledged writes missing at the end (a duplicate turn counts too), with when."""
    lost: list[tuple[str, float]] = []
    for sid, acked in run.turns.items():
        got = (await c.get(f"/v1/sessions/{sid}", params={"last": 1000}, timeout=60)).json()
        logged = [t["text"] for t in got.get("turns", [])]
        lost += [(t, when) for t, when in acked if t not in logged]
        dupes = {t for t in logged if logged.count(t) > 1}
        lost += [(t, when) for t, when in acked if t in dupes]
    listed = {d["source"] for d in (await c.get("/v1/documents", timeout=60)).json()["documents"]}
    return lost + [(s, when) for s, when in run.docs if s not in listed]


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
            print(f"mixed load; faults {', '.join(PLAN)} in random order, stalls {args.stall} s")
            run.stop = float("inf")
            jobs = [writer(run, c, n) for n in range(args.writers)]
            jobs += [reader(run, c, n) for n in range(args.readers)]
            await asyncio.gather(*jobs, prober(run, c),
                                 chaos(run, c, data, env, port, rnd, args.stall))  # fmt: skip
            await until_ready(c)
            assert run.server is not None
            run.server.send_signal(signal.SIGTERM)  # a clean restart: start-up recovery
            run.server.wait(60)
            run.server = start_server(env, port)
            await until_ready(c)
            lost = await verify(run, c)
            found, pending = orphans(data)
            run.server.send_signal(signal.SIGTERM)
            run.server.wait(60)
    report(run, lost, found, pending)


def report(run: Run, lost: list[tuple[str, float]], found: int, pending: int) -> None:
    flags = Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0]
    simd = sorted(f for f in flags.split() if f.startswith(("avx", "amx")))
    print(f"\nCPU: {os.cpu_count()} cores; {' '.join(simd)}")
    print("| fault | recovered s | requests | errors by status | longest s "
          "(route status) | /readyz answers (longest s) | acked writes lost |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name in [*[f.name for f in run.faults], "calm"]:
        calls = [(d, st, rt) for t, d, st, rt in run.calls if run.fault_at(t) == name]
        probes = [(d, st) for t, d, st in run.ready if run.fault_at(t) == name]
        errs = Counter(st for _, st, _ in calls if st != "200")
        answers = Counter(str(st) for _, st in probes)
        fault = next((f for f in run.faults if f.name == name), None)
        top = max(calls, default=(0.0, "", "-"))
        print(f"| {name} | {f'{fault.t1 - fault.t0:.1f}' if fault else '-'} | {len(calls)} "
              f"| {_counts(errs) or 'none'} | {top[0]:.1f} ({top[2]} {top[1]}) "
              f"| {_counts(answers)} ({max((d for d, _ in probes), default=0):.1f}) "
              f"| {sum(1 for _, when in lost if run.fault_at(when) == name)} |")  # fmt: skip
    total = Counter(st for _, _, st, _ in run.calls)
    acked = sum(len(t) for t in run.turns.values())
    print(f"\nrequests {len(run.calls)}  ({_counts(total)})")
    print(f"acknowledged writes: {acked} turns, {len(run.docs)} documents; lost: {len(lost)}")
    print(f"orphans found: {found}  (pending rows left: {pending})")


def _counts(c: Counter[str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(c.items()))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stall", type=float, default=30, help="seconds a SIGSTOPped store stays")
    p.add_argument("--writers", type=int, default=3)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    asyncio.run(main(p.parse_args()))
