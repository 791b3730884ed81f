"""Answers on other people's documents, per domain, side by side (issue: answers that hold up).

    nice python bench/answers_bench.py [--n 40] [--policies 8] [--per-policy 24] [--n-off 15]
        [--dump answers.jsonl]   # every answer, one JSON line each
    python bench/answers_bench.py --fit        # fit the span reader's knobs on DEV data only
    python bench/answers_bench.py --docs       # examples/docs; --licences: licence texts (dev)
    python bench/answers_bench.py --howto      # how-to questions over installed READMEs (dev)
    python bench/answers_bench.py --science    # questions over titled SciFact abstracts (dev)

Domains (each ingested into a fresh data dir, asked through ``overlay.turn.ask``, the pipeline
``POST /v1/chat`` runs):

- squad: the 16 SQuAD 2.0 dev-half articles ingested; questions from the 4 HELD-OUT articles
  (never trained or tuned on), ``--n`` answerable + ``--n`` unanswerable;
- tatqa: TAT-QA ``test.json`` (every report a source of one collection), ``--n`` questions;
- policyqa: PolicyQA ``test.json``, the first ``--policies`` policies, one collection each,
  ``--per-policy`` questions each (measure only: nothing here was trained or tuned on it);
- off-corpus: ``--n-off`` questions the documents do not answer, against squad and tatqa
  (the second half of ``OFF_TOPIC``; ``--fit`` uses the first half);
- off-one-document: the same questions against each policy (a collection of one document).

Methods: hybrid (its top chunk as the answer), naive (that chunk's sentence with most question
words), read-adapter (read mode as it was: query likelihood chooses, the reader adapter's span),
head (the span head chooses and its own span is the answer: one pass, nothing decoded), span
(the default: query likelihood and the span head's evidence choose, the answer gate abstains,
the judge adapter may too, the reader adapter reads, a clause is never cut to a word),
span-floor (span with a floor on the best passage's score abstaining instead of the gate, as
before it), span-dense (span-floor with
the question's embedding similarity in the choosing score, the ``--fit`` winner: measured, not
the default). Columns as in docqa_bench: F1, EM, first citation holds a gold answer (chunk@1),
abstention, median words, latency.
With ``--fit``: SQuAD DEV articles, TAT-QA DEV reports (``scripts/span_data.py``'s split) and
PolicyQA ``dev.json`` policies are asked once; the span weight, dense weight, abstention floor and
widening share are fitted on them by grid (``bench/answers_fit.py``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

from reader_data import split_titles  # noqa: E402
from span_data import DATA, tatqa_split  # noqa: E402

from bench.answers_docs import docs_check  # noqa: E402
from bench.answers_fit import fit  # noqa: E402
from bench.answers_howto import howto_check  # noqa: E402
from bench.answers_licences import licence_check  # noqa: E402
from bench.answers_science import science_check  # noqa: E402
from bench.choose_questions import OFF_TOPIC  # noqa: E402
from bench.docqa_bench import cpu_flags, docs_dir  # noqa: E402
from bench.docqa_score import Outcome, Summary, best_f1, exact, holds, print_table  # noqa: E402
from bench.progress import Ticker  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from overlay.choosing.views import best_sentence  # noqa: E402
from overlay.services import Services, build_services  # noqa: E402
from overlay.settings import Settings  # noqa: E402
from overlay.turn import ask, retrieve  # noqa: E402

METHODS = ("hybrid", "naive", "read-adapter", "head", "span-dense", "span-floor", "span")
# the answer settings each method runs with; SLOW ones run on every --adapter-every'th question
DENSE = {"span_weight": 0.1, "dense_weight": 0.6, "span_threshold": 0.34}  # the --fit winner
VARIANTS: dict[str, dict] = {
    "read-adapter": {"reader": "adapter"},
    "head": {"reader": "head"},
    # measured, not the default (docs/performance.md)
    "span-dense": {"reader": "span", "gate": False, **DENSE},
    "span-floor": {"reader": "span", "gate": False},  # read mode before the answer gate
    "span": {"reader": "span"},
}
SLOW = {"read-adapter"}


def load_set(rel: str) -> list[dict]:
    return json.loads((DATA / rel).read_text())["data"]


def qa_rows(paragraphs: list[dict], coll: str, title: str) -> list[dict]:
    out = []
    for p in paragraphs:
        for qa in p["qas"]:
            golds = [a["text"] for a in qa["answers"]]
            kind = "unanswerable" if qa.get("is_impossible") or not golds else "answerable"
            out.append({"q": qa["question"], "golds": golds, "kind": kind, "coll": coll,
                        "title": title})  # fmt: skip
    return out


def write_doc(folder: Path, name: str, paragraphs: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]
    text = "\n\n".join(p["context"].strip() for p in paragraphs)
    (folder / f"{safe}.txt").write_text(text, encoding="utf-8")


def squad_rows(svc: Services, root: Path, part: str) -> list[dict]:
    """Ingest the 16 SQuAD dev-half articles (collection ``squad``); the questions of ``part``'s
    articles (``reader_data.split_titles``: train, dev or heldout)."""
    squad = load_set("squad2-dev/dev-v2.0.json")
    split = split_titles([a["title"] for a in squad])
    for a in squad:
        write_doc(root / "squad", a["title"], a["paragraphs"])
    ingest_paths(svc, [root / "squad"], collection="squad")
    return [r for a in squad if a["title"] in split[part]
            for r in qa_rows(a["paragraphs"], "squad", a["title"])]  # fmt: skip


def tatqa_rows(svc: Services, root: Path, dev: bool) -> list[dict]:
    """Ingest TAT-QA's DEV reports (``dev``) or ``test.json`` (collection ``tatqa``); their
    questions."""
    tat = load_set("tatqa-text/dev.json" if dev else "tatqa-text/test.json")
    if dev:
        tat = [r for r in tat if tatqa_split(r["title"]) == "dev"]
    for r in tat:
        write_doc(root / "tatqa", r["title"], r["paragraphs"])
    ingest_paths(svc, [root / "tatqa"], collection="tatqa")
    return [x for r in tat for x in qa_rows(r["paragraphs"], "tatqa", r["title"])]


def policy_rows(
    svc: Services, root: Path, part: str, policies: int, per_policy: int, rng: random.Random
) -> list[dict]:
    """Ingest the first ``policies`` PolicyQA ``part`` policies, one collection each
    (``policy0``, ``policy1``, …); ``per_policy`` questions of each."""
    chosen = sorted(load_set(f"policyqa/{part}.json"), key=lambda p: p["title"])[:policies]
    out = []
    for i, pol in enumerate(chosen):
        coll = f"policy{i}"
        write_doc(root / coll, pol["title"], pol["paragraphs"])
        ingest_paths(svc, [root / coll], collection=coll)
        rows = qa_rows(pol["paragraphs"], coll, pol["title"])
        out += rng.sample(rows, min(per_policy, len(rows)))
    return out


def prepare(svc: Services, root: Path, args: argparse.Namespace) -> dict[str, list[dict]]:
    """Ingest every domain's documents; the questions per domain."""
    rng = random.Random(args.seed)
    sq = squad_rows(svc, root, "dev" if args.fit else "heldout")
    ans = [r for r in sq if r["kind"] == "answerable"]
    una = [r for r in sq if r["kind"] == "unanswerable"]
    sets = {
        "squad": rng.sample(ans, min(args.n, len(ans))) + rng.sample(una, min(args.n, len(una)))
    }
    rows = tatqa_rows(svc, root, args.fit)
    sets["tatqa"] = rng.sample(rows, min(args.n, len(rows)))
    part = "dev" if args.fit else "test"
    sets["policyqa"] = policy_rows(svc, root, part, args.policies, args.per_policy, rng)
    half = len(OFF_TOPIC) // 2
    offs = OFF_TOPIC[:half] if args.fit else OFF_TOPIC[half:]
    sets["off-corpus"] = [{"q": q, "golds": [], "kind": "off", "coll": c, "title": ""}
                          for q in offs[: args.n_off] for c in ("squad", "tatqa")]  # fmt: skip
    # the same questions of each policy: a collection of one document, whose gate threshold is
    # its own (``Gate.threshold_for``)
    sets["off-one-document"] = [
        {"q": q, "golds": [], "kind": "off", "coll": f"policy{i}", "title": ""}
        for q in offs[: args.n_off] for i in range(args.policies)
    ]  # fmt: skip
    return sets


def outcome(
    row: dict, text: str, abstained: bool, cited: str, secs: float, why: str = ""
) -> Outcome:
    out = Outcome(row["kind"], text, abstained, None, secs, False, why=why)
    if row["kind"] == "answerable" and not abstained:
        out.f1, out.em = best_f1(text, row["golds"]), exact(text, row["golds"])
        out.answer_in_cited = holds(cited, row["golds"])
    return out


def run_row(svc: Services, row: dict, methods: list[str], slow: bool = True) -> dict[str, Outcome]:
    outs: dict[str, Outcome] = {}
    if {"hybrid", "naive"} & set(methods):
        t0 = time.perf_counter()
        top = retrieve(svc, row["q"], row["coll"], k=1, method="hybrid")[0]
        secs = time.perf_counter() - t0
        outs["hybrid"] = outcome(row, top.text, False, top.text, secs)
        outs["naive"] = outcome(row, best_sentence(row["q"], top.text), False, top.text, secs)
    base = svc.settings
    for method, knobs in VARIANTS.items():
        if method not in methods or (method in SLOW and not slow):
            continue
        svc.settings = base.updated(answer={**base.answer.model_dump(), **knobs})
        t0 = time.perf_counter()
        a = ask(svc, row["q"], collection=row["coll"])
        cited = a.citations[0].hit.text if a.citations else ""
        secs = time.perf_counter() - t0
        outs[method] = outcome(row, a.answer, a.abstained, cited, secs, a.abstained_by or "")
    svc.settings = base
    return outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--policies", type=int, default=8)
    ap.add_argument("--per-policy", type=int, default=24)
    ap.add_argument("--n-off", type=int, default=15)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--fit", action="store_true", help="fit the span knobs on DEV data")
    ap.add_argument("--docs", action="store_true", help="only the examples/docs check")
    ap.add_argument("--licences", action="store_true", help="only the licence texts check (dev)")
    ap.add_argument("--howto", action="store_true", help="only the README how-to check (dev)")
    ap.add_argument("--science", action="store_true", help="only the abstracts check (dev)")
    ap.add_argument(
        "--adapter-every", type=int, default=1, help="read-adapter (slow) on every Nth question"
    )
    ap.add_argument("--dump", type=Path, help="also write every answer here (JSON lines)")
    args = ap.parse_args()
    print(f"CPU flags: {cpu_flags()}")
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), models_dir=REPO / ".cache/ov-data/models")
        svc = build_services(settings)
        try:
            checks = {
                "howto": howto_check, "docs": docs_check, "licences": licence_check,
                "science": science_check,
            }  # fmt: skip
            check = next((run for flag, run in checks.items() if getattr(args, flag)), None)
            if check is not None:
                check(svc)
                return
            sets = prepare(svc, docs_dir("answers"), args)
            if args.fit:
                fit(svc, sets)
                return
            report(svc, sets, methods, args.adapter_every, args.dump)
        finally:
            svc.close()


def print_why(summaries: dict[str, Summary]) -> None:
    """Why each method that can abstain did, per kind of question: "gate 3, judged 1"."""
    for method, summary in summaries.items():
        whys = {
            kind: Counter(o.why for o in summary.of(kind) if o.abstained)
            for kind in ("answerable", "unanswerable", "off")
        }
        said = [
            f"{kind} " + ", ".join(f"{w} {n}" for w, n in c.most_common())
            for kind, c in whys.items()
            if c
        ]
        if said:
            print(f"abstained, {method}: " + "; ".join(said))


def report(
    svc: Services, sets: dict[str, list[dict]], methods: list[str], every: int,
    dump: Path | None = None,
) -> None:  # fmt: skip
    ticker = Ticker(sum(len(v) for v in sets.values()))
    results = {d: {m: Summary() for m in methods} for d in sets}
    lines: list[str] = []
    for domain, rows in sets.items():
        for i, row in enumerate(rows):
            for m, out in run_row(svc, row, methods, i % every == 0).items():
                if m in results[domain]:
                    results[domain][m].outcomes.append(out)
                    lines.append(json.dumps({
                        "domain": domain, "method": m, "question": row["q"], "kind": row["kind"],
                        "golds": row["golds"], "answer": out.answer, "abstained": out.abstained,
                        "abstained_by": out.why, "f1": out.f1, "cited_holds": out.answer_in_cited,
                        "seconds": round(out.seconds, 3),
                    }))  # fmt: skip
            ticker.tick()
    ticker.close()
    if dump is not None:
        dump.write_text("\n".join(lines) + "\n", encoding="utf-8")
    f1s: dict[str, list[float]] = {m: [] for m in methods}
    for domain, rows in sets.items():
        gold = [len(min(r["golds"], key=len).split()) for r in rows if r["kind"] == "answerable"]
        table = {m: s.row() for m, s in results[domain].items()}
        print_table(f"{domain}: {len(rows)} questions", table, statistics.median(gold or [0]))
        print_why(results[domain])
        if any(r["kind"] == "answerable" for r in rows):
            for m in methods:
                f1s[m].append(table[m]["F1"])
    print("\n## mean F1 over the answerable domains")
    for m in methods:
        print(f"| {m} | {statistics.mean(f1s[m]):.3f} |")


if __name__ == "__main__":
    main()
