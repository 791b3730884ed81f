"""Time to first streamed content vs a whole non-streamed answer, over live HTTP with the real
model (SmolLM2-135M) and examples/docs, side by side per question (``--mode``: read, the
default mode, or generate).

The client's clock: request sent → first ``delta.content`` (stream) or → the full response
(non-stream). The server's own ``timings_ms.first_token`` and ``total`` are printed beside.

    python bench/stream_bench.py [--data-dir /tmp/overlay-bench-stream] [--rounds 2] [--mode read]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from followup_bench import cpu_flags  # noqa: E402 - a sibling script, not a package

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests package (live_server)
QUESTIONS = [
    "How many days of paid annual leave do employees get?",
    "What does the Lumen L-2 data logger store?",
    "Who founded Halvorsen Instruments?",
    "When does the support desk answer the phone?",
]


def streamed(url: str, question: str, mode: str) -> tuple[float, float, dict]:
    body = {"messages": [{"role": "user", "content": question}], "stream": True, "mode": mode}
    t0 = time.perf_counter()
    first, overlay = None, {}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=300) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if first is None and any(c["delta"].get("content") for c in chunk["choices"]):
                first = time.perf_counter() - t0
            overlay = chunk.get("overlay") or overlay
    return first or float("nan"), time.perf_counter() - t0, overlay


def whole(url: str, question: str, mode: str) -> float:
    body = {"messages": [{"role": "user", "content": question}], "mode": mode}
    t0 = time.perf_counter()
    httpx.post(f"{url}/v1/chat/completions", json=body, timeout=300).raise_for_status()
    return time.perf_counter() - t0


def settle(url: str, timeout: float = 120) -> None:
    """Wait until the server's view warming is done (``overlay_view_warming`` 0)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if "overlay_view_warming 0.0" in httpx.get(f"{url}/metrics", timeout=10).text:
            break
        time.sleep(0.2)
    print(f"views and reader passages read ahead in {time.perf_counter() - t0:.1f} s", flush=True)


def serve(services: Any, settings: Any, mode: str, rounds: int, settle_first: bool) -> list:
    """One server on ``services`` with ``settings``: the first question after it starts, then
    ``rounds`` of ``QUESTIONS`` streamed and not; every row printed."""
    from api.app import create_app
    from overlay.choosing.view_cache import VIEWS
    from overlay.model.prefix import PASSAGES, PREFIXES
    from tests.apiserver import live_server

    for cache in (VIEWS, PASSAGES, PREFIXES):  # process-wide: nothing from the last server
        cache.clear()
    rows = []
    with live_server(create_app(settings, services=services)) as url:
        if settle_first:  # the server reads the documents ahead while idle after it starts
            settle(url)
        t0 = time.perf_counter()
        whole(url, "What is the daily meal allowance on business trips?", mode)
        print(f"  the first question after start: {time.perf_counter() - t0:.2f} s", flush=True)
        for r in range(rounds):
            for q in QUESTIONS:
                first, total, overlay = streamed(url, q, mode)
                plain = whole(url, q, mode)
                rows.append((q, first, total, plain, overlay.get("timings_ms", {})))
                print(f"  round {r + 1}: {q[:40]:<40} first {first:5.2f} s", flush=True)
    print(f"\n{'question':<44}{'stream: first':>14}{'stream: end':>12}{'no stream':>10}"
          f"{'srv first_token':>16}{'srv total':>10}")  # fmt: skip
    for q, first, total, plain, t in rows:
        srv = (t.get("first_token", 0) / 1000, t.get("total", 0) / 1000)
        print(f"{q[:43]:<44}{first:13.2f}s{total:11.2f}s{plain:9.2f}s"
              f"{srv[0]:15.2f}s{srv[1]:9.2f}s")  # fmt: skip
    med = statistics.median
    print(
        f"\nmedian: first streamed content {med(r[1] for r in rows):.2f} s, "
        f"whole non-streamed answer {med(r[3] for r in rows):.2f} s"
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="/tmp/overlay-bench-stream")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--mode", choices=("read", "generate", "choose"), default="read")
    ap.add_argument(
        "--settle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until the server has read the documents ahead (api.warm_views)",
    )
    ap.add_argument(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="then the same on a server that reads nothing ahead (api.warm_views 0)",
    )
    args = ap.parse_args()
    from ingest.pipeline import ingest_paths
    from overlay.services import build_services
    from overlay.settings import Settings

    print(f"cpu: {cpu_flags()}; mode {args.mode}")
    services = build_services(Settings(data_dir=args.data_dir))
    ingest_paths(services, [ROOT / "examples" / "docs"])
    print("loading the model …", flush=True)
    services.adapters  # noqa: B018 - loads the base model before timing
    base = services.settings.updated(api={"preload_model": True})
    runs = [("default: views and reader passages read ahead", base)]
    if args.compare:
        runs.append(("nothing read ahead (api.warm_views 0)", base.updated(api={"warm_views": 0})))
    medians = []
    for label, settings in runs:
        print(f"\n## {label}", flush=True)
        rows = serve(services, settings, args.mode, args.rounds, args.settle)
        medians.append(statistics.median(r[1] for r in rows[: len(QUESTIONS)]))  # round 1
    if len(medians) == 2:
        print(f"\nfirst streamed content, each question's first asking (round 1), median: "
              f"{medians[0]:.2f} s read ahead vs "
              f"{medians[1]:.2f} s not ({medians[1] / medians[0]:.2f}x)")  # fmt: skip
    services.close()


if __name__ == "__main__":
    main()
