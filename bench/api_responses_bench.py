"""What typed responses cost: the same session read returned as a pydantic model (ours) and
as a plain dict (the untyped way), side by side on one app, plus how much of the API
OpenAPI documents.

    python bench/api_responses_bench.py [--turns 1000] [--facts 50] [--requests 200]

Runs on its own temporary data dir (embedded Redis + local Chroma server) with the
hashing embedder (no model is loaded; the routes under test call none). Requests go
through FastAPI's in-process test client, alternating typed and untyped, so both see
the same machine noise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.deps import ServicesDep  # noqa: E402
from api.responses import SessionResponse  # noqa: E402
from memory.embeddings import HashEmbedder  # noqa: E402
from overlay import remembering  # noqa: E402
from overlay.services import build_services  # noqa: E402
from overlay.settings import Settings  # noqa: E402

FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    present = set(line.split(":", 1)[-1].split())
    return " ".join(f for f in FLAGS if f in present) or "none of " + ", ".join(FLAGS)


def fill(services: Any, session: str, turns: int, facts: int) -> None:
    batch = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} about item {i}"}
        for i in range(turns)
    ]
    for start in range(0, turns, 200):
        remembering.append_turns(services, session, batch[start : start + 200])
    for i in range(facts):
        remembering.add_fact(services, session, f"key {i}", f"value {i}")
        remembering.add_fact(services, session, f"key {i}", f"newer value {i}")  # history


def documented(app: Any) -> tuple[int, int]:
    """(operations whose 200 response has a schema reference, all operations)."""
    ops = [op for path in app.openapi()["paths"].values() for op in path.values()]
    typed = 0
    for op in ops:
        content = op["responses"].get("200", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        typed += "$ref" in schema or "text/plain" in content
    return typed, len(ops)


def timed(client: TestClient, url: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    resp = client.get(url)
    took = time.perf_counter() - t0
    assert resp.status_code == 200, resp.text
    return took, resp.content


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=1000)
    ap.add_argument("--facts", type=int, default=50)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    print(f"CPU flags: {cpu_flags()}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), preload_model=False)
        services = build_services(settings, embedder=HashEmbedder(dim=384, name="hash-384"))
        try:
            run(settings, services, args)
        finally:
            services.close()


def encode_only(body: dict[str, Any], reps: int) -> dict[str, float]:
    """Median ms to turn the library's dict into JSON bytes, typed and untyped (no I/O)."""
    ways = {
        "typed (SessionResponse)": lambda: SessionResponse.model_validate(body).model_dump_json(),
        "untyped": lambda: json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    }
    out = {}
    for name, encode in ways.items():
        xs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            encode()
            xs.append(time.perf_counter() - t0)
        out[name] = statistics.median(xs) * 1000
    return out


def run(settings: Settings, services: Any, args: argparse.Namespace) -> None:
    print(f"filling a session with {args.turns} turns and {args.facts} facts …", flush=True)
    fill(services, "bench", args.turns, args.facts)
    app = create_app(settings, services=services)

    @app.get("/untyped/sessions/{session_id}")
    def untyped(session_id: str, services: ServicesDep) -> dict[str, Any]:
        return remembering.show_session(services, session_id)

    typed_ops, all_ops = documented(app)
    urls = {
        "typed (SessionResponse)": "/v1/sessions/bench",
        "untyped": "/untyped/sessions/bench",
    }
    times: dict[str, list[float]] = {name: [] for name in urls}
    bodies: dict[str, bytes] = {}
    with TestClient(app, base_url="http://localhost") as client:  # keyless: loopback only
        for name, url in urls.items():  # warm-up
            _, bodies[name] = timed(client, url)
        for i in range(args.requests):
            for name, url in urls.items():
                took, _ = timed(client, url)
                times[name].append(took)
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{args.requests} requests each", flush=True)
    same = len({json.dumps(json.loads(b), sort_keys=True) for b in bodies.values()}) == 1
    size = len(bodies[next(iter(urls))]) / 1024
    print(f"\nGET /v1/sessions/{{id}} with {args.turns} turns, {args.facts} facts "
          f"({size:.0f} KiB), {args.requests} requests each")  # fmt: skip
    print("| response | median ms | p90 ms |\n|---|---|---|")
    for name, xs in times.items():
        p90 = statistics.quantiles(xs, n=10)[-1] * 1000
        print(f"| {name} | {statistics.median(xs) * 1000:.2f} | {p90:.2f} |")
    encoded = encode_only(remembering.show_session(services, "bench"), args.requests)
    print(f"same JSON in both: {same}\n\nencoding alone (the library's dict → JSON bytes):")
    for name, ms in encoded.items():
        print(f"| {name} | {ms:.3f} ms |")
    print(f"operations whose 200 response OpenAPI documents: {typed_ops} of {all_ops}")


if __name__ == "__main__":
    main()
