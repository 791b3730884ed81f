"""Benchmark of the chooser: speed, FLOP efficiency, ranking quality, abstention.

    python bench/choose_bench.py [--queries 40] [--distractors 300] [--m 16]

1. Speed: time to score M = 8, 16, 32 candidates batched against one by one (same
   run, ratio), and the model FLOPs spent per second against this machine's
   measured torch fp32 matmul throughput.
2. Quality on SciFact (../shared/data/scifact, BEIR layout): a subset of test queries
   and a corpus holding their relevant documents plus random distractors (said in the
   output), nDCG@10 of ``hybrid`` against ``chosen`` for several fusion weights.
3. Abstention: SciFact claims whose evidence is in the corpus (answerable: answered
   with a citation to a relevant document) against questions on other topics
   (unanswerable: abstained), and the same on the bundled sample documents.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "scifact"

from bench.choose_questions import OFF_TOPIC, SAMPLE_ANSWERABLE, SAMPLE_UNANSWERABLE  # noqa: E402
from bench.docqa_bench import docs_dir  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from memory.types import Hit  # noqa: E402
from overlay.choosing.chooser import query_scores  # noqa: E402
from overlay.choosing.fusion import FusionWeights, choose  # noqa: E402
from overlay.choosing.scoring import PROMPT, Calibration, query_logprobs  # noqa: E402
from overlay.model.base import load_base_model  # noqa: E402
from overlay.services import build_services  # noqa: E402
from overlay.settings import Settings  # noqa: E402
from overlay.turn import retrieve  # noqa: E402


def matmul_gflops(n: int = 1024, reps: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def model_flops(bm, n_tokens: int, n_scored: int, seq: int) -> float:
    """Forward FLOPs: 2·(non-embedding params)·tokens + attention + the scored projections."""
    cfg = bm.model.config
    emb = cfg.vocab_size * cfg.hidden_size
    body = sum(p.numel() for p in bm.model.parameters()) - emb
    attn = 2 * 2 * cfg.num_hidden_layers * cfg.hidden_size * seq * n_tokens  # QK^T and AV
    return 2 * body * n_tokens + attn + 2 * emb * n_scored


def _best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def speed(bm, texts: list[str], query: str) -> None:
    """Best of 3 for each timing (the machine is shared), peak measured right beside it."""
    tok = bm.tokenizer
    print("\n## time to choose (SciFact passages as candidates, view <= 64 tokens)")
    print(f"{'M':>4} {'batched s':>10} {'1-by-1 s':>9} {'ratio':>6} {'GFLOP/s':>8} "
          f"{'matmul':>7} {'eff':>6}")  # fmt: skip
    for m in (8, 16, 32):
        views = [" ".join(t.split()[:48]) for t in texts[:m]]
        with torch.inference_mode():
            batched = _best_of(
                3, lambda v=views: query_logprobs(bm.model, tok, query, v, batch_size=8)
            )
            single = _best_of(
                3, lambda v=views: [query_logprobs(bm.model, tok, query, [x]) for x in v]
            )
        peak = max(matmul_gflops() for _ in range(3))
        q = len(tok(" " + query)["input_ids"])
        lens = [len(tok(PROMPT.format(text=v))["input_ids"]) + q for v in views]
        flops = model_flops(bm, sum(lens), q * m, max(lens))
        rate = flops / batched / 1e9
        print(f"{m:>4} {batched:>10.2f} {single:>9.2f} {single / batched:>6.2f} "
              f"{rate:>8.1f} {peak:>7.1f} {rate / peak:>6.0%}")  # fmt: skip


def load_scifact(n_queries: int, n_distractors: int, seed: int = 0):
    queries = {}
    for line in open(DATA / "queries.jsonl", encoding="utf-8"):
        row = json.loads(line)
        queries[row["_id"]] = row["text"]
    qrels: dict[str, set[str]] = {}
    for line in list(open(DATA / "qrels" / "test.tsv", encoding="utf-8"))[1:]:
        qid, did, score = line.split()
        if int(score) > 0:
            qrels.setdefault(qid, set()).add(did)
    corpus = {}
    for line in open(DATA / "corpus.jsonl", encoding="utf-8"):
        row = json.loads(line)
        corpus[row["_id"]] = (row["title"] + ". " + row["text"]).strip()
    rng = random.Random(seed)
    qids = rng.sample(sorted(qrels), n_queries)
    needed = set().union(*(qrels[q] for q in qids))
    others = sorted(set(corpus) - needed)
    docs = needed | set(rng.sample(others, n_distractors))
    return {q: queries[q] for q in qids}, {q: qrels[q] for q in qids}, {d: corpus[d] for d in docs}


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal


def doc_of(hit) -> str:
    return Path(hit.source).stem


def docs_of(hits) -> list[str]:
    """Document ids in rank order, each once (a document may have several chunks)."""
    return list(dict.fromkeys(doc_of(h) for h in hits))


def collect(svc, coll: str, questions: dict[str, str], m: int) -> dict[str, dict]:
    """Hybrid top max(10, m) per question and the model's margins on the top m (the slow part;
    every fusion and threshold below reuses them)."""
    out = {}
    for key, text in questions.items():
        hits = retrieve(svc, text, coll, k=max(10, m), method="hybrid")
        sc = query_scores(svc, text, hits[:m])
        out[key] = {
            "docs": [doc_of(h) for h in hits],
            "texts": [h.text for h in hits[:m]],
            "margins": sc.margins,
        }
    return out


def _choice(run: dict, cal: Calibration, w: FusionWeights, threshold: float):
    m = len(run["margins"])
    hits = [Hit(f"{i}", run["texts"][i], 0.0, run["docs"][i]) for i in range(m)]
    return choose(hits, [cal(x) for x in run["margins"]], weights=w, threshold=threshold, top_n=1)


def quality(runs: dict, qrels: dict, cal: Calibration) -> None:
    n = len(runs)
    print(f"\n## nDCG@10 and rank-1 right document on the SciFact subset ({n} queries)")
    hybrid = sum(ndcg10(list(dict.fromkeys(r["docs"])), qrels[q]) for q, r in runs.items())
    top = sum(r["docs"][0] in qrels[q] for q, r in runs.items())
    print(f"hybrid                                  {hybrid / n:.4f}  {top / n:.3f}")
    for scale in (1.0, 2.0, 3.0):
        c = Calibration(scale, cal.center)
        for wm, wr in ((1.0, 0.0), (0.9, 0.1), (0.8, 0.2), (0.6, 0.4), (0.4, 0.6)):
            total, top = 0.0, 0
            for q, r in runs.items():
                ranked = _choice(r, c, FusionWeights(wm, wr), 0.0).ranked
                m = len(r["margins"])
                order = [r["docs"][int(s.hit.id)] for s in ranked] + r["docs"][m:]
                total += ndcg10(list(dict.fromkeys(order)), qrels[q])
                top += order[0] in qrels[q]
            print(f"chosen  scale={scale:.0f} w_model={wm:.1f} w_rank={wr:.1f}    "
                  f"{total / n:.4f}  {top / n:.3f}")  # fmt: skip


def abstention(name: str, answerable: dict, relevant: dict, unanswerable: dict, cal, w) -> None:
    print(f"\n## abstention: {name}")
    print(f"{'threshold':>9} {'answered':>9} {'cites right':>12} {'abstained (off-topic)':>22}")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        answered = right = 0
        for q, r in answerable.items():
            chosen = _choice(r, cal, w, threshold).chosen
            answered += bool(chosen)
            right += bool(chosen) and relevant[q](r, int(chosen[0].hit.id))
        off = sum(_choice(r, cal, w, threshold).abstained for r in unanswerable.values())
        n, u = len(answerable), len(unanswerable)
        print(f"{threshold:>9.1f} {answered / n:>9.0%} {right / n:>12.0%} {off / u:>22.0%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--distractors", type=int, default=300)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--cache", type=Path, default=REPO / "bench" / "results" / "choose.json")
    ap.add_argument("--reuse", action="store_true", help="Reuse the cached margins.")
    ap.add_argument("--no-speed", action="store_true", help="Skip the timing part.")
    args = ap.parse_args()
    torch.set_num_threads(2)
    queries, qrels, corpus = load_scifact(args.queries, args.distractors)
    print(f"SciFact subset: {len(queries)} test queries, {len(corpus)} docs (their "
          f"{len(set().union(*qrels.values()))} relevant + {args.distractors} random "
          "distractors)")  # fmt: skip
    if not args.no_speed:
        bm = load_base_model(Settings(models_dir=REPO / ".cache" / "models"))
        speed(bm, list(corpus.values()), next(iter(queries.values())))
        del bm
    if args.reuse:
        data = json.loads(args.cache.read_text())
    else:
        data = measure(args, queries, corpus)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_text(json.dumps(data))
    report(data, qrels)


def measure(args, queries: dict, corpus: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), models_dir=REPO / ".cache" / "models")
        svc = build_services(settings)
        folder = docs_dir("scifact")
        for did, text in corpus.items():
            (folder / f"{did}.txt").write_text(text, encoding="utf-8")
        t0 = time.perf_counter()
        ingest_paths(svc, [folder], collection="scifact")
        ingest_paths(svc, [REPO / "examples" / "docs"], collection="samples")
        print(f"ingested in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        m = settings.choose.top_m
        data = {
            "scifact": collect(svc, "scifact", queries, args.m),
            "scifact_off": collect(svc, "scifact", dict(enumerate(OFF_TOPIC)), args.m),
            "samples": collect(svc, "samples", {q: q for q, _, _ in SAMPLE_ANSWERABLE}, m),
            "samples_off": collect(svc, "samples", {q: q for q in SAMPLE_UNANSWERABLE}, m),
        }
        print(f"model scores collected in {time.perf_counter() - t0:.0f} s")
        svc.close()
    return data


def report(data: dict, qrels: dict) -> None:
    s = Settings()
    cal = Calibration(s.choose.margin_scale, s.choose.margin_center)
    print(f"calibration: sigmoid({cal.scale} * (margin - {cal.center})); "
          f"threshold in settings {s.choose.threshold}")  # fmt: skip
    quality(data["scifact"], qrels, cal)
    w = FusionWeights(s.choose.model_weight, s.choose.rank_weight)
    sci = data["scifact"]
    retrieved = {q: r for q, r in sci.items() if set(r["docs"][: len(r["margins"])]) & qrels[q]}
    print(
        f"\n{len(retrieved)}/{len(sci)} SciFact queries have a relevant doc among the "
        "candidates; those count as answerable"
    )
    abstention(
        "SciFact claims vs off-topic questions", retrieved,
        {q: (lambda r, i, q=q: r["docs"][i] in qrels[q]) for q in retrieved},
        data["scifact_off"], cal, w,
    )  # fmt: skip
    needles = {q: (src, needle) for q, src, needle in SAMPLE_ANSWERABLE}
    abstention(
        "sample docs: answerable vs unanswerable questions", data["samples"],
        {q: (lambda r, i, q=q: r["docs"][i] == Path(needles[q][0]).stem
             and needles[q][1] in r["texts"][i]) for q in data["samples"]},
        data["samples_off"], cal, w,
    )  # fmt: skip


if __name__ == "__main__":
    main()
