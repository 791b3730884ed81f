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

from bench.answers_bench import (  # noqa: E402
    load_set,
    policy_rows,
    qa_rows,
    squad_rows,
    tatqa_rows,
    write_doc,
)
from bench.answers_fit import observe  # noqa: E402
from bench.choose_questions import OFF_TOPIC  # noqa: E402
from bench.docqa_bench import docs_dir  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from overlay.choosing.candidates import collection_size  # noqa: E402
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


def _squad_articles(*parts: str) -> list[dict]:
    """The SQuAD dev-half articles of ``parts`` (``reader_data.split_titles``), in file order."""
    squad = load_set("squad2-dev/dev-v2.0.json")
    split = split_titles([a["title"] for a in squad])
    return [a for a in squad if a["title"] in {t for p in parts for t in split[p]}]


def _alone(svc: Services, root: Path, coll: str, doc: dict) -> list[dict]:
    """Ingest ``doc`` (an article or a report) as collection ``coll`` of its own; its questions."""
    write_doc(root / coll, doc["title"], doc["paragraphs"])
    ingest_paths(svc, [root / coll], collection=coll)
    return qa_rows(doc["paragraphs"], coll, doc["title"])


def _article(
    svc: Services, root: Path, coll: str, article: dict, off: list[str], rng: random.Random
) -> list[dict]:
    """``article`` alone: 6 of its answerable and 6 of its unanswerable questions, and ``off``."""
    own = _alone(svc, root, coll, article)
    rows: list[dict] = []
    for kind in ("answerable", "unanswerable"):
        rows += _tag(rng.sample([r for r in own if r["kind"] == kind], 6), "article")
    return rows + _off(off, coll, "off-topic")


def single(svc: Services, root: Path, rng: random.Random) -> list[dict]:
    """One collection per SQuAD TRAIN/DEV article: its own questions and off-corpus ones."""
    tat = [r["q"] for r in tatqa_rows(svc, root, True)]
    convo = _locomo(["47", "48", "49"])
    off = OFF_TOPIC[: len(OFF_TOPIC) // 2]
    rows: list[dict] = []
    for i, a in enumerate(_squad_articles("train", "dev")):
        rows += _article(svc, root, f"article{i}", a, off, rng)
        rows += _off(rng.sample(tat, 10) + rng.sample(convo, 5), f"article{i}", "cross")
    return rows


def single_test(svc: Services, root: Path, rng: random.Random) -> list[dict]:
    """Held out, one collection per document: the 4 SQuAD HELD-OUT articles (6 answerable and 6
    unanswerable questions each) and 40 TAT-QA ``test.json`` reports (up to 2 questions each),
    with 3 of the second half of ``OFF_TOPIC`` of every report and all of it of every article."""
    off = OFF_TOPIC[len(OFF_TOPIC) // 2 :]
    rows: list[dict] = []
    for i, a in enumerate(_squad_articles("heldout")):
        rows += _article(svc, root, f"article{i}", a, off, rng)
    for i, r in enumerate(rng.sample(load_set("tatqa-text/test.json"), 40)):
        coll = f"report{i}"
        own = [x for x in _alone(svc, root, coll, r) if x["kind"] == "answerable"]
        rows += _tag(rng.sample(own, min(2, len(own))), "report")
        rows += _off(rng.sample(off, 3), coll, "off-topic")
    return rows


def prepare(svc: Services, root: Path, part: str, rng: random.Random) -> list[dict]:
    if part == "single":
        return single(svc, root, rng)
    if part == "single-test":
        return single_test(svc, root, rng)
    dev = part == "dev"
    sq = squad_rows(svc, root, "dev" if dev else "heldout")
    ans = [r for r in sq if r["kind"] == "answerable"]
    una = [r for r in sq if r["kind"] == "unanswerable"]
    n = 150 if dev else 80
    rows = _tag(rng.sample(ans, min(n, len(ans))) + rng.sample(una, min(n, len(una))), "squad")
    tq = tatqa_rows(svc, root, dev)
    tat_rows = _tag(rng.sample(tq, min(n, len(tq))), "tatqa")
    rows += tat_rows
    half = len(OFF_TOPIC) // 2
    off = OFF_TOPIC[:half] if dev else OFF_TOPIC[half:]
    colls = ["squad", "tatqa"]
    if not dev:
        rows += _tag(policy_rows(svc, root, "test", 8, 24, rng), "policyqa")
        colls += [f"policy{i}" for i in range(8)]
    for c in colls:
        rows += _off(off, c, "off-topic")
    sq_q = [r["q"] for r in rows if r["domain"] == "squad" and r["kind"] == "answerable"]
    tq_q = [r["q"] for r in tat_rows]
    convo = _locomo(["47", "48", "49"] if dev else ["50"])
    rows += _off(rng.sample(tq_q, 60), "squad", "cross")
    rows += _off(rng.sample(sq_q, 60), "tatqa", "cross")
    for c in ("squad", "tatqa"):
        rows += _off(rng.sample(convo, 30), c, "cross")
    if not dev:
        pol_q = [r["q"] for r in rows if r["domain"] == "policyqa"]
        for c in ("squad", "tatqa"):
            rows += _off(rng.sample(pol_q, 30), c, "cross")
        for i in range(8):
            qs = rng.sample(sq_q, 4) + rng.sample(tq_q, 4) + rng.sample(convo, 2)
            rows += _off(qs, f"policy{i}", "cross")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("dev", "test", "single", "single-test"), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shard", default="0/1", help="i/n: observe every n-th question from i")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    i, n = (int(x) for x in args.shard.split("/"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), models_dir=REPO / ".cache/models")
        svc = build_services(settings)
        try:
            docs = docs_dir(f"gate-{args.part}-{i}")
            rows = prepare(svc, docs, args.part, random.Random(args.seed))[i::n]
            out, t0 = [], time.perf_counter()
            for j, row in enumerate(rows, 1):
                size = collection_size(svc, row["coll"])
                out.append({**observe(svc, row), "sources": size.sources, "chunks": size.chunks})
                print(f"\r{j}/{len(rows)} {time.perf_counter() - t0:.0f}s", end="", file=sys.stderr)
            print(file=sys.stderr)
            args.out.write_bytes(pickle.dumps(out))
        finally:
            svc.close()


if __name__ == "__main__":
    main()
