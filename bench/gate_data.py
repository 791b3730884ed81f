"""Observe the choosing pass on many questions, answerable and not, for the answer gate
(``scripts/gate_fit.py``): every question's candidates, query likelihood (raw log-probs and the
passage-free baseline), the span head's reads, and which candidates hold a gold answer.

    python bench/gate_data.py --part dev  --out bench/results/gate-dev.pkl
    python bench/gate_data.py --part test --out bench/results/gate-test.pkl

``dev`` (fitting): SQuAD DEV articles (answerable and unanswerable), TAT-QA DEV reports, the first
half of ``OFF_TOPIC``, and questions asked of a collection of another domain: TAT-QA DEV
questions of the Wikipedia articles, SQuAD DEV questions of the annual reports, LoCoMo 47-49
questions of both. PolicyQA is never read here.
``test`` (measuring only): SQuAD HELD-OUT articles, TAT-QA ``test.json``, PolicyQA ``test.json``
(8 policies, one collection each), the second half of ``OFF_TOPIC`` of every collection, and
cross-domain questions of the same kinds from held-out data (LoCoMo 50, PolicyQA test questions
of the Wikipedia and report collections, SQuAD and TAT-QA test questions of the policies).
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

from reader_data import split_titles  # noqa: E402
from span_data import tatqa_split  # noqa: E402

from bench.answers_bench import _load, _rows, _write  # noqa: E402
from bench.choose_questions import OFF_TOPIC  # noqa: E402
from bench.docqa_score import holds  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from overlay.choosing import candidates  # noqa: E402
from overlay.choosing.chooser import candidate_views, query_scores  # noqa: E402
from overlay.choosing.fusion import dedupe  # noqa: E402
from overlay.choosing.span_head import LAYERS  # noqa: E402
from overlay.choosing.span_read import load_reader, read_spans  # noqa: E402
from overlay.services import Services, build_services  # noqa: E402
from overlay.settings import Settings  # noqa: E402

LOCOMO = REPO.parent / "shared" / "data" / "locomo-dev"


def _off(qs: list[str], coll: str, domain: str) -> list[dict]:
    return [{"q": q, "golds": [], "kind": "off", "coll": coll, "title": "", "domain": domain}
            for q in qs]  # fmt: skip


def _tag(rows: list[dict], domain: str) -> list[dict]:
    return [{**r, "domain": domain} for r in rows]


def _locomo(convs: list[str]) -> list[str]:
    out = []
    for c in convs:
        qa = json.loads((LOCOMO / f"{c}.json").read_text())["qa"]
        out += [x["question"] for x in qa if x.get("category") in (1, 2, 3, 4)]
    return out


def prepare(svc: Services, root: Path, part: str, rng: random.Random) -> list[dict]:
    squad = _load("squad2-dev/dev-v2.0.json")
    split = split_titles([a["title"] for a in squad])
    for a in squad:
        _write(root / "squad", a["title"], a["paragraphs"])
    ingest_paths(svc, [root / "squad"], collection="squad")
    which = "dev" if part == "dev" else "heldout"
    sq = [r for a in squad if a["title"] in split[which]
          for r in _rows(a["paragraphs"], "squad", a["title"])]  # fmt: skip
    ans = [r for r in sq if r["kind"] == "answerable"]
    una = [r for r in sq if r["kind"] == "unanswerable"]
    n_sq = 150 if part == "dev" else 80
    rows = _tag(rng.sample(ans, min(n_sq, len(ans))) + rng.sample(una, min(n_sq, len(una))),
                "squad")  # fmt: skip
    tat = _load("tatqa-text/dev.json" if part == "dev" else "tatqa-text/test.json")
    if part == "dev":
        tat = [r for r in tat if tatqa_split(r["title"]) == "dev"]
    for r in tat:
        _write(root / "tatqa", r["title"], r["paragraphs"])
    ingest_paths(svc, [root / "tatqa"], collection="tatqa")
    tq = [x for r in tat for x in _rows(r["paragraphs"], "tatqa", r["title"])]
    tat_rows = _tag(rng.sample(tq, min(150 if part == "dev" else 80, len(tq))), "tatqa")
    rows += tat_rows
    half = len(OFF_TOPIC) // 2
    off = OFF_TOPIC[:half] if part == "dev" else OFF_TOPIC[half:]
    colls = ["squad", "tatqa"]
    if part == "test":
        policies = sorted(_load("policyqa/test.json"), key=lambda p: p["title"])[:8]
        pq = []
        for i, pol in enumerate(policies):
            coll = f"policy{i}"
            _write(root / coll, pol["title"], pol["paragraphs"])
            ingest_paths(svc, [root / coll], collection=coll)
            pr = _rows(pol["paragraphs"], coll, pol["title"])
            pq += rng.sample(pr, min(24, len(pr)))
        rows += _tag(pq, "policyqa")
        colls += [f"policy{i}" for i in range(len(policies))]
    for c in colls:
        rows += _off(off, c, "off-topic")
    sq_q = [r["q"] for r in rows if r["domain"] == "squad" and r["kind"] == "answerable"]
    tq_q = [r["q"] for r in tat_rows]
    convo = _locomo(["47", "48", "49"] if part == "dev" else ["50"])
    rows += _off(rng.sample(tq_q, 60), "squad", "cross")
    rows += _off(rng.sample(sq_q, 60), "tatqa", "cross")
    for c in ("squad", "tatqa"):
        rows += _off(rng.sample(convo, 30), c, "cross")
    if part == "test":
        pol_q = [r["q"] for r in rows if r["domain"] == "policyqa"]
        for c in ("squad", "tatqa"):
            rows += _off(rng.sample(pol_q, 30), c, "cross")
        for i in range(8):
            qs = rng.sample(sq_q, 4) + rng.sample(tq_q, 4) + rng.sample(convo, 2)
            rows += _off(qs, f"policy{i}", "cross")
    return rows


def observe(svc: Services, row: dict) -> dict:
    m = svc.settings.choose.top_m
    hits = dedupe(candidates.retrieve(svc, row["q"], row["coll"], k=m, method="hybrid"))[:m]
    views = candidate_views(svc, row["q"], hits)
    scored = query_scores(svc, row["q"], hits, layers=LAYERS, views=views)
    reads = read_spans(load_reader(), scored.features, views)
    gold = [bool(row["golds"]) and holds(h.text, row["golds"]) for h in hits]
    return {"row": row, "hits": hits, "views": views, "logprobs": scored.logprobs,
            "baseline": scored.baseline, "ql": scored.calibrated, "reads": reads,
            "gold": gold}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("dev", "test"), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shard", default="0/1", help="i/n: observe every n-th question from i")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    i, n = (int(x) for x in args.shard.split("/"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), models_dir=REPO / ".cache/models")
        svc = build_services(settings)
        try:
            rows = prepare(svc, Path(tmp) / "docs", args.part, random.Random(args.seed))[i::n]
            out, t0 = [], time.perf_counter()
            for j, row in enumerate(rows, 1):
                out.append(observe(svc, row))
                print(f"\r{j}/{len(rows)} {time.perf_counter() - t0:.0f}s", end="", file=sys.stderr)
            print(file=sys.stderr)
            args.out.write_bytes(pickle.dumps(out))
        finally:
            svc.close()


if __name__ == "__main__":
    main()
