"""Session memory benchmark: layout, lookup latency, import throughput, recall curve, LoCoMo.

    python bench/memory_bench.py [--quick] [--sessions 1000] [--one-session 10000]
    python bench/memory_bench.py --locomo-only   # LoCoMo dev: plain dense vs our lookup

Runs on its own temporary data dir (embedded Redis + local Chroma server).
Latency at scale imports with the hashing embedder at MiniLM's dimension (the
store work is the same; embedding 110k turns with MiniLM on 2 cores would take
~20 min) and reports the MiniLM query-embedding time separately. Throughput,
the recall curve and LoCoMo use the real MiniLM embedder. LoCoMo's turn and
question embeddings are cached in bench/results/ (gitignored) between runs.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import locomo_memory as lm  # noqa: E402
from memory.embeddings import Embedder, HashEmbedder  # noqa: E402
from memory.minilm import load_embedder  # noqa: E402
from overlay import remembering  # noqa: E402
from overlay.services import Services, build_services  # noqa: E402
from overlay.settings import Settings  # noqa: E402
from tests.overlay.remembering.test_memory_acceptance import FACTS, TOPICS, VERBS  # noqa: E402

# the shared data beside the main checkout (/work/shared) or beside a worktree's parent
LOCOMO = next(
    (p / "shared" / "data" / "locomo-dev" for p in (ROOT.parent, ROOT.parent.parent)
     if (p / "shared" / "data" / "locomo-dev").is_dir()),
    ROOT.parent / "shared" / "data" / "locomo-dev",
)  # fmt: skip


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, p))


def filler(rng: random.Random, i: int) -> str:
    return f"{rng.choice(VERBS)} {rng.choice(TOPICS)}? (message {i})"


def layout(svc: Services, sessions: int = 200, per: int = 100) -> None:
    """Per-session collections against one collection with a `where` filter."""
    client, rng = svc.chroma.client, np.random.default_rng(0)

    def vecs(n: int) -> list[list[float]]:
        v = rng.standard_normal((n, 384)).astype("float32")
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).tolist()

    cfg = {"hnsw": {"space": "cosine", "ef_search": 200}}
    tag = uuid.uuid4().hex[:6]
    t0 = time.perf_counter()
    cols = [client.create_collection(f"lay-{tag}-{i}", configuration=cfg, embedding_function=None)
            for i in range(sessions)]  # fmt: skip
    create = (time.perf_counter() - t0) / sessions
    big = client.create_collection(f"lay-{tag}-big", configuration=cfg, embedding_function=None)
    for i, col in enumerate(cols):
        v = vecs(per)
        col.add(ids=[str(j) for j in range(per)], embeddings=v)
        big.add(ids=[f"{i}:{j}" for j in range(per)], embeddings=v,
                metadatas=[{"session": f"s{i}"}] * per)  # fmt: skip
    for col in cols:
        col.query(query_embeddings=vecs(1), n_results=10)  # warm
    own, shared = [], []
    for i, col in enumerate(cols):
        t = time.perf_counter()
        col.query(query_embeddings=vecs(1), n_results=10)
        own.append(time.perf_counter() - t)
        t = time.perf_counter()
        big.query(query_embeddings=vecs(1), n_results=10, where={"session": f"s{i}"})
        shared.append(time.perf_counter() - t)
    print(f"layout ({sessions} sessions x {per} turns): create a collection {create * 1000:.1f} ms;"
          f" query p50 per-session {pct(own, 50):.1f} ms vs shared+where {pct(shared, 50):.1f} ms"
          f" (ratio {pct(shared, 50) / pct(own, 50):.1f}x)")  # fmt: skip
    for col in [*cols, big]:
        client.delete_collection(col.name)


def latency(svc: Services, label: str, sessions: list[str], queries: int = 200) -> None:
    rng = random.Random(1)
    times = []
    for i in range(queries):
        s = rng.choice(sessions)
        t = time.perf_counter()
        remembering.memory_search(svc, s, filler(rng, i), 5)
        times.append(time.perf_counter() - t)
    print(f"lookup {label}: p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms "
          f"({queries} queries, k=5, hashing query embedder)")  # fmt: skip


def scale(svc: Services, one: int, many: int, per: int) -> None:
    rng = random.Random(0)
    t = time.perf_counter()
    for b in range(0, one, 500):
        turns = [{"role": "user", "content": filler(rng, b + j)} for j in range(min(500, one - b))]
        remembering.append_turns(svc, "big", turns)
    print(f"imported {one} turns into one session in {time.perf_counter() - t:.1f} s")
    latency(svc, f"1 session x {one} turns", ["big"])
    t = time.perf_counter()
    names = [f"s{i}" for i in range(many)]
    for name in names:
        turns = [{"role": "user", "content": filler(rng, j)} for j in range(per)]
        remembering.append_turns(svc, name, turns)
    print(f"imported {many} sessions x {per} turns in {time.perf_counter() - t:.1f} s")
    latency(svc, f"{many} sessions x {per} turns", names)


def throughput(svc: Services, emb: Embedder, n: int) -> None:
    rng = random.Random(2)
    texts = [filler(rng, i) for i in range(n)]
    t = time.perf_counter()
    emb.embed(texts)
    raw = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for b in range(0, n, 50):
        remembering.append_turns(
            svc, "tp", [{"role": "user", "content": x} for x in texts[b : b + 50]]
        )
    ours = n / (time.perf_counter() - t)
    t = time.perf_counter()
    remembering.append_turns(svc, "tp", [{"role": "assistant", "content": "ok"}] * 200)
    log_only = 200 / (time.perf_counter() - t)
    t = time.perf_counter()
    emb.embed(["what is my name?"])
    one_query = time.perf_counter() - t
    print(f"import (MiniLM, batches of 50): {ours:.0f} turns/s vs raw embedder {raw:.0f} "
          f"sentences/s (ratio {ours / raw:.2f}); log-only (not embedded) {log_only:.0f} turns/s; "
          f"one query embedding {one_query * 1000:.1f} ms")  # fmt: skip


def recall_curve(svc: Services, gaps: list[int]) -> None:
    """Facts stated first, then `gap` filler turns, then each fact asked."""
    rng = random.Random(3)
    remembering.append_turns(svc, "curve", [{"role": "user", "content": f[0]} for f in FACTS])
    done, rows = 0, []
    for gap in gaps:
        turns = [{"role": "user", "content": filler(rng, done + j)} for j in range(gap - done)]
        remembering.append_turns(svc, "curve", turns)
        done = gap
        both = turns_only = 0
        for _, q, expected in FACTS:
            hits = remembering.memory_search(svc, "curve", q, 15)
            both += any(expected in h.text for h in hits[:5])
            turns_only += any(expected in h.text for h in [h for h in hits if h.kind == "turn"][:5])
        rows.append(f"{gap}: {both / len(FACTS):.2f} (turns only {turns_only / len(FACTS):.2f})")
    print("fact recall@5 vs turns between statement and question — " + "; ".join(rows))


class CachedEmbedder:
    """``inner`` with the vectors it made kept on disk (bench/results/, gitignored)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.max_tokens = inner.max_tokens
        tag = hashlib.sha1(inner.name.encode()).hexdigest()[:8]
        self.path = ROOT / "bench" / "results" / f"locomo-emb-{tag}.npz"
        self.table: dict[str, np.ndarray] = {}
        if self.path.exists():
            got = np.load(self.path)
            self.table = dict(zip(got["texts"].tolist(), got["vecs"], strict=True))
        self.added = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.table))
        if missing:
            self.table.update(zip(missing, self.inner.embed(missing), strict=True))
            self.added += len(missing)
        return np.stack([self.table[t] for t in texts])

    def save(self) -> None:
        if self.added:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            texts = list(self.table)
            vecs = np.stack([self.table[t] for t in texts])
            np.savez(self.path, texts=np.array(texts), vecs=vecs)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


# today's figures (before issue 20), same conversations and questions: bench at c7f41c4
BEFORE = {"ours": {5: 0.643, 10: 0.718}, "dense": {5: 0.386, 10: 0.476}, "p50": 25.5}
BEFORE_ROWS = {"47": 0.693, "48": 0.743, "49": 0.712, "50": 0.718}  # ours @10


def locomo(svc: Services) -> None:
    """LoCoMo dev: recall (ours vs dense vs sparse), lookup times, answers from memory."""
    emb = CachedEmbedder(svc.embedder)
    inner = svc.embedder
    svc = Services(svc.settings, svc.redis, svc.chroma, embedder=emb, tenant=svc.tenant)
    convs = lm.load(LOCOMO)
    t = time.perf_counter()
    lm.import_all(svc, convs)
    print(f"LoCoMo dev: imported {sum(len(c.turns) for c in convs)} turns in "
          f"{time.perf_counter() - t:.1f} s (speaker and date as fields)")  # fmt: skip
    got = lm.recall(svc, convs)
    emb.save()
    e2e = lm.e2e_latency(svc, convs, inner)
    rows = got["rows"]
    print("evidence-turn recall, categories 1-4 (tuned on 47-49; 50 held out):")
    print(
        "  conversation       q   ours@5 ours@10 (before@10)  dense@5 dense@10  sparse@5 sparse@10"
    )
    groups = {"tuned 47-49": [n for n in rows if n != lm.HELD_OUT], "held-out 50": [lm.HELD_OUT],
              "all": list(rows)}  # fmt: skip
    for label, names in [*((n, [n]) for n in rows), *groups.items()]:
        n = sum(rows[x]["n"] for x in names)
        avg = {m: {k: sum(rows[x][m][k] * rows[x]["n"] for x in names) / n for k in (5, 10)}
               for m in ("ours", "dense", "sparse")}  # fmt: skip
        before = (sum(BEFORE_ROWS[x] * rows[x]["n"] for x in names) / n) if names else 0
        a, d, sp = avg["ours"], avg["dense"], avg["sparse"]
        print(f"  {label:<16} {n:>4}   {a[5]:.3f}   {a[10]:.3f}   ({before:.3f})      {d[5]:.3f}"
              f"   {d[10]:.3f}     {sp[5]:.3f}    {sp[10]:.3f}")  # fmt: skip
    tm = got["times"]
    print(
        f"  before: all @5 {BEFORE['ours'][5]} @10 {BEFORE['ours'][10]}, dense @5 "
        f"{BEFORE['dense'][5]} @10 {BEFORE['dense'][10]}, lookup p50 {BEFORE['p50']} ms"
    )
    print(f"lookup (k=10, query embedding cached): p50 {pct(tm['ours'], 50):.1f} ms, p95 "
          f"{pct(tm['ours'], 95):.1f} ms (before p50 {BEFORE['p50']} ms); with the query "
          f"embedded: p50 {pct(e2e, 50):.1f} ms, p95 {pct(e2e, 95):.1f} ms")  # fmt: skip
    n = sum(len(c.qas) for c in convs)
    with Progress(disable=not sys.stdout.isatty(), transient=True) as bar:
        task = bar.add_task("answering from memory", total=n)
        got = lm.answers(svc, convs, lambda: bar.advance(task))
    print_answers(got)


def print_answers(got: dict[str, dict[str, dict[int, list[float]]]]) -> None:
    print("answers from memory (library call behind POST /v1/chat's memory step; answer F1 per "
          "category, adversarial questions abstained):")  # fmt: skip
    cats = "  ".join(f"{lm.CATEGORIES[k]:>11}" for k in (1, 2, 3, 4))
    print(f"  method · metric         conversations   {cats}   F1 1-4   abstained(5)")
    for method, rows in got.items():
        groups = {"tuned 47-49": [n for n in rows if n != lm.HELD_OUT],
                  "held-out 50": [lm.HELD_OUT], "all": list(rows)}  # fmt: skip
        for label, names in groups.items():
            cat = {k: [x for n in names for x in rows[n][k]] for k in lm.CATEGORIES}
            f1 = [x for k in (1, 2, 3, 4) for x in cat[k]]
            cells = "  ".join(f"{np.mean(cat[k]) if cat[k] else 0:>11.3f}" for k in (1, 2, 3, 4))
            print(f"  {method:<22} {label:<14}  {cells}   {np.mean(f1):.3f}    "
                  f"{np.mean(cat[5]):.2f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--one-session", type=int, default=10000)
    ap.add_argument("--locomo-only", action="store_true", help="only the LoCoMo comparison")
    args = ap.parse_args()
    many, one = (50, 1000) if args.quick else (args.sessions, args.one_session)
    import torch

    torch.set_num_threads(1 if args.locomo_only else 2)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        fast = build_services(settings, embedder=HashEmbedder(dim=384, name="hash-384"))
        try:
            if args.locomo_only:
                emb = load_embedder("all-MiniLM-L6-v2")  # the product's encoder
                locomo(Services(settings, fast.redis, fast.chroma, embedder=emb, tenant="loco"))
                return
            layout(fast, 50 if args.quick else 200)
            scale(fast.for_tenant("scale"), one, many, 100)
            emb = load_embedder("all-MiniLM-L6-v2")
            real = Services(settings, fast.redis, fast.chroma, embedder=emb, tenant="real")
            throughput(real, emb, 200 if args.quick else 1000)
            recall_curve(real, [10, 30, 100] if args.quick else [10, 30, 100, 300, 1000])
            if not args.quick:
                locomo(real.for_tenant("locomo"))
        finally:
            fast.close()


if __name__ == "__main__":
    main()
