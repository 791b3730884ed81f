"""Retrieval latency at 10k and 100k chunks: dense, sparse, hybrid, query embedding included.

Embedding 100k chunks with MiniLM here (~15 chunks/s) would take hours, so the
corpus is partly SYNTHETIC:

- *real* chunks: SciFact abstracts split exactly as the pipeline does (first
  ``--base`` chunks), embedded once with MiniLM; the embeddings are cached in
  ``bench/results/`` (gitignored);
- *synthetic* chunks: runs of 1-3 sentences from 2-4 different real chunks
  joined to a real chunk's length; embedding = normalise(Σ share_i · e_i +
  N(0, σ²)), share_i = the source's share of the characters, σ = ``--noise``.

Both go through the project's write paths in batches: ``VectorStore.add(...,
embeddings=...)`` (the tenant's Chroma collection from ``services.vectors``)
and ``SparseIndex.add`` (``overlay.choosing.candidates.sparse_index``), in a temporary
data dir with the default embedded Redis and local ``chroma run`` server.
The corpus is grown to each size in turn and measured there: 200 SciFact test
queries through ``overlay.choosing.candidates.retrieve`` (the query embedding included),
the embedding alone, a per-stage breakdown of hybrid, and dense recall@10 of the
HNSW index against exact numpy top-10 on the same vectors.

    python bench/retrieval_scale_bench.py [--sizes 10000,100000] [--base 3000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent.parent / "shared" / "data" / "scifact"
RESULTS = ROOT / "results"
METHODS = ("dense", "sparse", "hybrid")
BATCH = 1000
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def real_chunks(emb: Any, settings: Any, n: int) -> tuple[list[Any], np.ndarray]:
    """The first ``n`` SciFact chunks (pipeline splitter) and their MiniLM embeddings (cached)."""
    from ingest.loaders import load
    from ingest.split import Splitter

    src = DATA / "corpus.jsonl"
    kind, sections = load(src.read_bytes(), src.name)
    split = Splitter(
        emb.count_tokens, emb.max_tokens, settings.ingest.chunk_size, settings.ingest.chunk_overlap
    )
    chunks: list[Any] = []
    for i in range(len(sections)):
        chunks += split.split(str(src), kind, sections[i : i + 1])
        if len(chunks) >= n:
            break
    chunks = chunks[:n]
    cache = RESULTS / f"scale_base_{emb.name}_{settings.ingest.chunk_size}_{n}.npy"
    if cache.exists():
        vecs = np.load(cache)
        print(f"real chunks: {n}, embeddings from {cache.name}")
        return chunks, vecs
    t0 = time.perf_counter()
    vecs = emb.embed([c.text for c in chunks])
    RESULTS.mkdir(exist_ok=True)
    np.save(cache, vecs)
    dt = time.perf_counter() - t0
    print(f"real chunks: {n}, embedded in {dt:.0f} s ({n / dt:.1f}/s), cached to {cache.name}")
    return chunks, vecs


class Synth:
    """Makes synthetic chunks by recombining sentences of real ones."""

    def __init__(self, texts: list[str], vecs: np.ndarray, noise: float, seed: int = 7) -> None:
        self.sents = [_SENT.split(t) for t in texts]
        self.lens = [len(t) for t in texts]
        self.vecs, self.noise = vecs, noise
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)

    def make(self) -> tuple[str, np.ndarray, list[int]]:
        rng = self.rng
        target = rng.choice(self.lens)
        parts: list[str] = []
        srcs: list[int] = []
        shares: list[int] = []
        while (sum(shares) < target and len(srcs) < 4) or len(srcs) < 2:
            i = rng.randrange(len(self.sents))
            if i in srcs:
                continue
            sents = self.sents[i]
            start = rng.randrange(len(sents))
            run = " ".join(sents[start : start + rng.randint(1, 3)])
            parts.append(run)
            srcs.append(i)
            shares.append(len(run))
        w = np.asarray(shares, dtype=np.float32) / sum(shares)
        v = w @ self.vecs[srcs]
        v = v / np.linalg.norm(v) + self.np_rng.normal(0, self.noise, v.shape)
        return " ".join(parts), (v / np.linalg.norm(v)).astype(np.float32), srcs


def grow(
    services: Any, collection: str, synth: Synth, real: tuple, all_vecs: list, to: int
) -> None:
    """Add chunks (the real ones first) until the collection holds ``to``."""
    from rich.progress import Progress

    from overlay.choosing.candidates import sparse_index

    vectors, sparse = services.vectors(collection), sparse_index(services, collection)
    have = sum(len(v) for v in all_vecs)
    chunks, rvecs = real
    with Progress(disable=not sys.stdout.isatty(), transient=True) as bar:  # quiet when piped
        task = bar.add_task(f"indexing {have} -> {to}", total=to - have)
        while have < to:
            n = min(BATCH, to - have)
            ids, texts, metas, vecs = [], [], [], []
            for j in range(have, have + n):
                if j < len(chunks):
                    c = chunks[j]
                    ids.append(f"real-{j}")
                    texts.append(c.text)
                    metas.append({**c.metadata(), "synthetic": False})
                    vecs.append(rvecs[j])
                else:
                    text, vec, srcs = synth.make()
                    ids.append(f"syn-{j}")
                    texts.append(text)
                    metas.append(
                        {
                            "source": "synthetic",
                            "kind": "chunk",
                            "synthetic": True,
                            "record": str(chunks[srcs[0]].meta.get("record", "")),
                        }
                    )
                    vecs.append(vec)
            arr = np.stack(vecs).astype(np.float32)
            vectors.add(ids, texts, metas, embeddings=arr)
            sparse.add(list(zip(ids, texts, strict=True)))
            all_vecs.append(arr)
            have += n
            bar.advance(task, n)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]


def measure(services: Any, collection: str, queries: list[str]) -> dict[str, list[float]]:
    """Latency (ms) per query of each method via ``retrieve``, and of the embedding alone."""
    from overlay.turn import retrieve

    out: dict[str, list[float]] = {}
    emb = services.embedder
    for q in queries[:5]:
        emb.embed([q])
    lat = []
    for q in queries:
        t0 = time.perf_counter()
        emb.embed([q])
        lat.append((time.perf_counter() - t0) * 1000)
    out["embed only"] = lat
    for method in METHODS:
        for q in queries[:5]:
            retrieve(services, q, collection, k=10, method=method)
        lat = []
        for q in queries:
            t0 = time.perf_counter()
            retrieve(services, q, collection, k=10, method=method)
            lat.append((time.perf_counter() - t0) * 1000)
        out[method] = lat
    return out


def stages(services: Any, collection: str, queries: list[str], k: int = 10) -> dict[str, float]:
    """p50 (ms) of each stage of hybrid, run one after another (no overlap)."""
    from overlay.choosing.candidates import sparse_index
    from overlay.choosing.rrf import rrf

    s = services.settings
    depth = max(s.retrieve.hybrid_depth_factor * k, s.retrieve.hybrid_min_depth)
    t: dict[str, list[float]] = {}

    def tick(name: str, t0: float) -> float:
        now = time.perf_counter()
        t.setdefault(name, []).append((now - t0) * 1000)
        return now

    for q in queries:
        t0 = time.perf_counter()
        vectors = services.vectors(collection)
        _ = vectors.col
        t0 = tick("open collection (get_or_create)", t0)
        vec = services.embedder.embed([q])[0]
        t0 = tick("query embedding", t0)
        vectors.count()
        t0 = tick("chroma count() (was in search)", t0)
        dense = vectors.search(vec, depth)
        t0 = tick("chroma query (vectors.search)", t0)
        sparse = sparse_index(services, collection).search(q, depth)
        t0 = tick("redis sparse script", t0)
        fused = rrf(
            [[h.id for h in dense], [c for c, _ in sparse]],
            [s.retrieve.dense_weight, s.retrieve.sparse_weight],
            s.retrieve.rrf_k,
        )[:k]
        t0 = tick("fusion", t0)
        have = {h.id for h in dense}
        missing = [c for c, _ in fused if c not in have]
        if missing:
            vectors.get(ids=missing)
        tick("chroma get (sparse-only hits)", t0)
    return {name: pct(v, 0.5) for name, v in t.items()}


def dense_recall(
    services: Any, collection: str, queries: list[str], vecs: np.ndarray, base: int
) -> float:
    """Mean |HNSW top-10 ∩ exact top-10| / 10 over ``queries`` (same vectors, same ids)."""
    vectors = services.vectors(collection)
    qv = services.embedder.embed(queries)
    exact = np.argsort(-(qv @ vecs.T), axis=1)[:, :10]
    ids = np.asarray([f"real-{j}" if j < base else f"syn-{j}" for j in range(len(vecs))])
    got = []
    for i, q in enumerate(qv):
        hits = {h.id for h in vectors.search(q, 10)}
        got.append(len(hits & set(ids[exact[i]])) / 10)
    return float(np.mean(got))


def load_queries(n: int) -> list[str]:
    wanted = {
        ln.split("\t")[0] for ln in (DATA / "qrels" / "test.tsv").read_text().splitlines()[1:]
    }
    rows = [json.loads(x) for x in (DATA / "queries.jsonl").read_text().splitlines()]
    return [r["text"] for r in rows if r["_id"] in wanted][:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--base", type=int, default=3000, help="real chunks embedded with MiniLM")
    ap.add_argument("--noise", type=float, default=0.02, help="σ of the per-dimension noise")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--data-dir", default=None, help="default: a temporary dir, removed after")
    args = ap.parse_args()

    import torch

    from overlay.services import build_services
    from overlay.settings import Settings

    torch.set_num_threads(2)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="overlay-scale-bench-"))
    services = build_services(Settings(data_dir=data_dir))
    s = services.settings
    print(
        f"data dir {data_dir}; hnsw_ef_search={s.retrieve.hnsw_ef_search}, k=10, "
        f"embedder {services.embedder.name}"
    )
    real = real_chunks(services.embedder, s, args.base)
    synth = Synth([c.text for c in real[0]], real[1], args.noise)
    queries = load_queries(args.queries)
    sizes = [int(x) for x in args.sizes.split(",")]
    print(
        f"SYNTHETIC CORPUS: {args.base} real SciFact chunks (MiniLM), the rest are sentence "
        f"runs of 2-4 real chunks with embedding = normalised char-share mix of theirs + "
        f"N(0, {args.noise}^2) noise"
    )
    services.redis.ping()
    services.vectors("scale").count()  # start the stores outside the timed part
    all_vecs: list[np.ndarray] = []
    results, recalls, breakdowns = {}, {}, {}
    for n in sizes:
        t0 = time.perf_counter()
        grow(services, "scale", synth, real, all_vecs, n)
        print(f"{n} chunks indexed ({time.perf_counter() - t0:.0f} s)")
        results[n] = measure(services, "scale", queries)
        recalls[n] = dense_recall(services, "scale", queries, np.concatenate(all_vecs), args.base)
        breakdowns[n] = stages(services, "scale", queries)
    report(sizes, results, recalls, breakdowns, len(queries))
    services.close()
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)


def report(sizes: list[int], results: dict, recalls: dict, breakdowns: dict, nq: int) -> None:
    head = "".join(f"{f'{n // 1000}k p50':>10}{f'{n // 1000}k p95':>10}" for n in sizes)
    print(f"\nlatency ms over {nq} SciFact test queries, k=10 (retrieve() incl. query embedding)")
    print(f"{'':<14}{head}")
    for m in ("embed only", *METHODS):
        row = "".join(
            f"{pct(results[n][m], 0.5):10.1f}{pct(results[n][m], 0.95):10.1f}" for n in sizes
        )
        print(f"{m:<14}{row}")
    big = sizes[-1]
    hyb = pct(results[big]["hybrid"], 0.5)
    print(
        f"hybrid p50 at {big // 1000}k: {hyb:.1f} ms (target <= 30 ms): "
        f"{'met' if hyb <= 30 else 'NOT met'}; {big // 1000}k / {sizes[0] // 1000}k p50 ratio "
        f"{hyb / pct(results[sizes[0]]['hybrid'], 0.5):.2f}"
    )
    print(
        "dense recall@10, HNSW vs exact numpy top-10: "
        + ", ".join(f"{n // 1000}k {recalls[n]:.3f}" for n in sizes)
    )
    print("hybrid stages, p50 ms, run one after another:")
    for name in breakdowns[big]:
        row = "  ".join(f"{n // 1000}k {breakdowns[n][name]:6.2f}" for n in sizes)
        print(f"  {name:<34}{row}")


if __name__ == "__main__":
    main()
