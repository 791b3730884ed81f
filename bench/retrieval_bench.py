"""Retrieval quality and latency on SciFact (BEIR layout): dense vs sparse vs hybrid.

Ingests the whole corpus (one JSONL source, one section per abstract) into a
data dir of its own once (a rerun finds it unchanged), then runs the test
queries: nDCG@10 and recall@10 over documents (a document's rank is that of
its best chunk), and latency p50/p95 of ``retrieve`` including the query
embedding. The first run embeds ~16k chunks (about 15-25 min here).

    python bench/retrieval_bench.py [--data-dir /tmp/overlay-bench-scifact]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scifact"
METHODS = ("dense", "sparse", "hybrid")


def load_eval() -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in (DATA / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    queries = {}
    for line in (DATA / "queries.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["_id"] in qrels:
            queries[row["_id"]] = row["text"]
    return queries, qrels


def ndcg_at_10(ranked: list[str], rel: dict[str, int]) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0


def docs_of(hits: list) -> list[str]:
    return list(dict.fromkeys(str(h.metadata.get("record")) for h in hits))


def run(services, collection: str, queries: dict, qrels: dict) -> dict[str, dict[str, float]]:
    from overlay.turn import retrieve

    out = {}
    for method in METHODS:
        retrieve(services, "warm up", collection, k=30, method=method)
        lat, ndcg, recall = [], [], []
        for qid, text in queries.items():
            t0 = time.perf_counter()
            hits = retrieve(services, text, collection, k=30, method=method)
            lat.append((time.perf_counter() - t0) * 1000)
            ranked = docs_of(hits)[:10]
            ndcg.append(ndcg_at_10(ranked, qrels[qid]))
            recall.append(len(set(ranked) & set(qrels[qid])) / len(qrels[qid]))
        lat.sort()
        out[method] = {
            "ndcg@10": statistics.mean(ndcg),
            "recall@10": statistics.mean(recall),
            "p50_ms": lat[len(lat) // 2],
            "p95_ms": lat[int(len(lat) * 0.95)],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="/tmp/overlay-bench-scifact")
    args = ap.parse_args()

    import torch

    from ingest.pipeline import ingest_paths
    from overlay.services import build_services
    from overlay.settings import Settings

    torch.set_num_threads(2)
    services = build_services(Settings(data_dir=args.data_dir))
    collection = "scifact"
    report = ingest_paths(services, [DATA / "corpus.jsonl"], collection=collection)
    print(
        f"ingest: {report.to_dict()['sources']} {report.chunks_written} chunks written "
        f"in {report.seconds:.0f} s"
    )
    queries, qrels = load_eval()
    scale = services.vectors(collection).count()
    print(f"{len(queries)} test queries, {scale} chunks")
    results = {scale: run(services, collection, queries, qrels)}
    for n, res in results.items():
        print(f"\n{n} chunks   {'nDCG@10':>8} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7}")
        for method, r in res.items():
            print(
                f"{method:<12} {r['ndcg@10']:8.3f} {r['recall@10']:9.3f} "
                f"{r['p50_ms']:7.1f} {r['p95_ms']:7.1f}"
            )
        best = max(res[m]["ndcg@10"] for m in ("dense", "sparse"))
        print(f"hybrid / best single nDCG@10: {res['hybrid']['ndcg@10'] / best:.3f}")
    services.close()


if __name__ == "__main__":
    main()
