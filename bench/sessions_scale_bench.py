"""Session memory at 1k, 10k and 100k sessions: where should a session's vectors live?

    nice -n 10 python bench/sessions_scale_bench.py [--per 10] [--dim 64] [--queries 200]
        [--stages 1000,10000,100000] [--budget-s 240]

Three layouts on the same engines (the embedded Redis + the local ``chroma run``):

- ``per-session``: one Chroma collection per session (today); a lookup opens the
  session's collection cold (a process sees a random session) and queries it;
- ``tenant+where``: one Chroma collection per tenant, each vector tagged with its
  session, a lookup filtered by ``where={"session": id}``;
- ``redis``: a session's vectors as float32 blobs in one Redis hash (hash-tagged
  per session, so one slot), a lookup is HVALS + an exact dot product in numpy.

Synthetic turns: random unit vectors (the hashing test embedder's store work; no
model). The population grows stage by stage (1k → 10k → 100k sessions × ``per``
turns) and each stage measures the import rate of the sessions it added and the
lookup p50/p95 over random sessions. A layout whose next stage would take
longer than ``--budget-s`` (extrapolated from its import rate) stops there and
says so. Prints the CPU flags and one table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from memory.embeddings import HashEmbedder  # noqa: E402
from overlay.services import build_services  # noqa: E402
from overlay.settings import Settings  # noqa: E402

CFG = {"hnsw": {"space": "cosine", "ef_search": 200}}


def cpu_flags() -> str:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = next(
        (ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []
    )
    wanted = [
        f for f in flags if f in {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile"}
    ]
    model = next(
        (ln.split(":", 1)[1].strip() for ln in text.splitlines() if "model name" in ln), "?"
    )
    return f"{model}; {' '.join(wanted) or 'no avx2/avx512'}"


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype("float32")
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class PerSession:
    name = "per-session collections (today)"

    def __init__(self, client: Any, tag: str) -> None:
        self.c, self.tag = client, tag

    def add(self, sessions: list[str], vecs: np.ndarray, per: int) -> None:
        for i, s in enumerate(sessions):
            col = self.c.create_collection(f"{self.tag}.{s}", configuration=CFG,
                                           embedding_function=None)  # fmt: skip
            col.add(ids=[f"t{j}" for j in range(per)], embeddings=vecs[i * per : (i + 1) * per],
                    documents=[f"turn {j}" for j in range(per)])  # fmt: skip

    def lookup(self, session: str, q: np.ndarray, k: int) -> list[str]:
        col = self.c.get_collection(f"{self.tag}.{session}", embedding_function=None)
        return col.query(query_embeddings=[q], n_results=k)["ids"][0]


class TenantWhere:
    name = "one collection per tenant + where"

    def __init__(self, client: Any, tag: str) -> None:
        self.col = client.create_collection(f"{tag}.all", configuration=CFG,
                                            embedding_function=None)  # fmt: skip

    def add(self, sessions: list[str], vecs: np.ndarray, per: int) -> None:
        for b in range(0, len(sessions), 200):  # 200 sessions x per turns a request
            chunk = sessions[b : b + 200]
            ids = [f"{s}:t{j}" for s in chunk for j in range(per)]
            self.col.add(ids=ids, embeddings=vecs[b * per : (b + len(chunk)) * per],
                         documents=[f"turn {i}" for i in ids],
                         metadatas=[{"session": s} for s in chunk for _ in range(per)])  # fmt: skip

    def lookup(self, session: str, q: np.ndarray, k: int) -> list[str]:
        got = self.col.query(query_embeddings=[q], n_results=k, where={"session": session})
        return got["ids"][0]


class RedisHash:
    name = "redis hash per session (exact)"

    def __init__(self, r: redis.Redis, tag: str) -> None:
        self.r, self.tag = r, tag

    def key(self, session: str) -> str:
        return f"{self.tag}:vec:{{{self.tag}/{session}}}"

    def add(self, sessions: list[str], vecs: np.ndarray, per: int) -> None:
        pipe = self.r.pipeline(transaction=False)
        for i, s in enumerate(sessions):
            rows = vecs[i * per : (i + 1) * per]
            pipe.hset(self.key(s), mapping={f"t{j}": rows[j].tobytes() for j in range(per)})
            if i % 500 == 499:
                pipe.execute()
        pipe.execute()

    def lookup(self, session: str, q: np.ndarray, k: int) -> list[str]:
        row: dict[bytes, bytes] = self.r.hgetall(self.key(session))  # type: ignore[assignment]
        ids = list(row)
        m = np.frombuffer(b"".join(row.values()), dtype=np.float32).reshape(len(ids), -1)
        scores = m @ q
        top = np.argsort(-scores)[:k]
        return [ids[i].decode() for i in top]


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, p))


def run(layouts: list[Any], stages: list[int], per: int, dim: int, queries: int,
        budget: float) -> list[tuple[str, int, str, str, str]]:  # fmt: skip
    rng = np.random.default_rng(0)
    rows = []
    done = 0
    alive = {lay.name: lay for lay in layouts}
    rate: dict[str, float] = {}
    for stage in stages:
        new = [f"s{i}" for i in range(done, stage)]
        vecs = unit(rng, len(new) * per, dim)
        for name, lay in list(alive.items()):
            need = len(new) * per / rate[name] if name in rate else 0.0
            if need > budget:
                rows.append((name, stage, f"~{need:.0f} s to import: skipped", "-", "-"))
                del alive[name]
                continue
            t = time.perf_counter()
            for b in range(0, len(new), 1000):
                lay.add(new[b : b + 1000], vecs[b * per : (b + 1000) * per], per)
                print(f"  {name}: {done + b + 1000:,}/{stage:,} sessions", end="\r", flush=True)
            took = time.perf_counter() - t
            rate[name] = len(new) * per / took
            qrng = np.random.default_rng(stage)
            lat = []
            for _ in range(queries):
                s = f"s{int(qrng.integers(stage))}"
                q = unit(qrng, 1, dim)[0]
                t = time.perf_counter()
                found = lay.lookup(s, q, 10)
                lat.append(time.perf_counter() - t)
                assert len(found) == min(10, per), (name, s, found)
            rows.append((name, stage, f"{rate[name]:,.0f} turns/s",
                         f"{pct(lat, 50):.2f}", f"{pct(lat, 95):.2f}"))  # fmt: skip
            print(f"{name:36} {stage:>7,} sessions: import {rate[name]:,.0f} turns/s,"
                  f" lookup p50 {pct(lat, 50):.2f} ms p95 {pct(lat, 95):.2f} ms")  # fmt: skip
        done = stage
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per", type=int, default=10, help="turns per session")
    ap.add_argument("--dim", type=int, default=64, help="vector dim (the hashing embedder's)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--stages", default="1000,10000,100000")
    ap.add_argument("--budget-s", type=float, default=240.0, help="max import time per stage")
    args = ap.parse_args()
    stages = [int(s) for s in args.stages.split(",")]
    print(f"CPU: {cpu_flags()}")
    print(f"sessions x {args.per} turns, dim {args.dim}, {args.queries} lookups (k=10) a stage")
    with tempfile.TemporaryDirectory() as tmp:
        svc = build_services(Settings(data_dir=Path(tmp)), embedder=HashEmbedder(dim=args.dim))
        try:
            kw = svc.redis.client.connection_pool.connection_kwargs
            raw = redis.Redis(host=kw["host"], port=kw["port"])  # binary replies
            tag = "b" + uuid.uuid4().hex[:6]
            layouts = [RedisHash(raw, tag), TenantWhere(svc.chroma.client, tag),
                       PerSession(svc.chroma.client, tag)]  # fmt: skip
            rows = run(layouts, stages, args.per, args.dim, args.queries, args.budget_s)
        finally:
            svc.close()
    print("\n| layout | sessions | import | lookup p50 ms | lookup p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for name, n, imp, p50, p95 in rows:
        print(f"| {name} | {n:,} | {imp} | {p50} | {p95} |")


if __name__ == "__main__":
    main()
