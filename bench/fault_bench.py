"""Fault run: SIGKILL the embedded Redis server under write load, then start it again.

One ``overlay serve`` process on a fresh data dir; writer clients teach facts
as fast as they can. Mid-run the data dir's Redis server is killed: the API must
answer 503 with a clear message (no crash, ``/healthz`` still 200). The server
is then started again on the same port and files; the API must recover by itself
and every write it acknowledged (200) must still be there.

    python bench/fault_bench.py [--writers 8] [--before 5] [--down 5] [--after 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _server import bench_env, start_api, stop

from memory.stores.redis import _embedded_command  # the exact command the data dir's server runs


async def _writer(c: httpx.AsyncClient, n: int, until: float, log: dict) -> None:
    i = 0
    while time.monotonic() < until:
        fact = {"subject": f"w{n}-{i}", "relation": "value", "object": f"v{n}-{i}"}
        i += 1
        try:
            r = await c.post("/v1/facts", json=fact)
        except httpx.HTTPError as exc:
            log["transport"] += 1
            log["last_transport"] = repr(exc)
            continue
        if r.status_code == 200:
            log["acked"].append(fact["object"])
            if log["down_at"] and not log["up_at"] and log["restarted_at"]:
                log["up_at"] = time.monotonic()
        elif r.status_code == 503:
            log["503"] += 1
            log["message"] = r.json()["error"]["message"]
        else:
            log["other"] += 1
        await asyncio.sleep(0.01)


def _kill_redis(data: Path) -> dict:
    state = json.loads((data / "run" / "redis.json").read_text())
    os.kill(state["pid"], signal.SIGKILL)
    return dict(state)


def _restart_redis(data: Path, state: dict) -> subprocess.Popen[bytes]:
    cmd = _embedded_command(data)(state["port"])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)
    state["pid"] = proc.pid  # so the last overlay process stops it as usual
    (data / "run" / "redis.json").write_text(json.dumps(state))
    return proc


async def _run(url: str, data: Path, args: argparse.Namespace) -> dict:
    log: dict = {"acked": [], "503": 0, "other": 0, "transport": 0, "message": "",
                 "down_at": 0.0, "restarted_at": 0.0, "up_at": 0.0, "probes": []}  # fmt: skip
    total = args.before + args.down + args.after
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        until = time.monotonic() + total
        writers = [asyncio.create_task(_writer(c, n, until, log)) for n in range(args.writers)]
        await asyncio.sleep(args.before)
        log["killed"] = _kill_redis(data)
        log["down_at"] = time.monotonic()
        await asyncio.sleep(args.down / 2)
        ready, health = await c.get("/readyz"), await c.get("/healthz")
        log["probes"] = [ready.status_code, health.status_code, ready.json()]
        await asyncio.sleep(args.down / 2)
        log["proc"] = _restart_redis(data, log["killed"])
        log["restarted_at"] = time.monotonic()
        await asyncio.gather(*writers)
        stored = (await c.get("/v1/facts")).json()["facts"]
    log["stored"] = {f["object"] for f in stored}
    return log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--before", type=float, default=5)
    ap.add_argument("--down", type=float, default=5)
    ap.add_argument("--after", type=float, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="overlay-fault-") as tmp:
        data = Path(tmp)
        proc, url = start_api(bench_env(data))
        try:
            log = asyncio.run(_run(url, data, args))
            alive = proc.poll() is None
        finally:
            stop(proc)
            log_proc = locals().get("log", {}).get("proc")
            if log_proc is not None:
                log_proc.kill()
    lost = set(log["acked"]) - log["stored"]
    recovered = log["up_at"] - log["restarted_at"] if log["up_at"] else float("nan")
    print(f"writes acknowledged:        {len(log['acked'])}")
    print(f"503 answers while down:     {log['503']}  (other errors {log['other']}, "
          f"transport errors {log['transport']})")  # fmt: skip
    print(f"503 message:                {log['message']}")
    print(f"/readyz, /healthz while down: {log['probes'][0]}, {log['probes'][1]} "
          f"{log['probes'][2]['error']['message']}")  # fmt: skip
    print(f"API process alive after:    {alive}")
    print(f"first 200 after restart:    {recovered:.2f} s")
    print(f"acknowledged writes lost:   {len(lost)}")


if __name__ == "__main__":
    main()
