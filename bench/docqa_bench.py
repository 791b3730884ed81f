"""Document QA end to end on SQuAD 2.0 dev articles: is the model's choice worth its cost?

    nice -n 10 python bench/docqa_bench.py [--n 20] [--n-gen 4] [--n-off 10]

Ingests the 16 articles of ../shared/data/squad2-dev (one source per article, paragraphs as
blank-line separated text) into a fresh data dir, then asks, through ``overlay.turn.ask`` (the
pipeline ``POST /v1/chat`` runs), ``--n`` answerable and ``--n`` unanswerable questions from
the DEV articles and from the HELD-OUT articles (the split of scripts/reader_data.py: the
reader adapter never saw them, nothing was tuned on them), plus ``--n-off`` off-corpus
questions. Methods side by side:

- hybrid: the top hybrid chunk as the answer (retrieval alone);
- naive: the sentence of that chunk with most question words;
- choose: the chooser's extractive answer (from the read turn's own ``Choice``: the same
  text ``ask(mode="choose")`` gives, timed as that turn's retrieve + choose stages);
- generate: ``ask(mode="generate")`` on the first ``--n-gen`` questions per group (slow);
- read: the new default (sentences fused, reader span, checked).

Columns: token-F1 and EM (SQuAD normalisation, citations stripped; an abstention scores 0),
first citation is the question's article (cite@1) and holds a gold answer (chunk@1, the
granularity the answer needs), abstention on answerable / unanswerable /
off-corpus, median answer words, latency p50/p90 (s), share of turns where the model
generated text. Then the sentence-fusion calibration: weights fitted on dev questions only,
sentence hit@1 on dev and on held-out.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]
SQUAD = next(
    (p / "shared/data/squad2-dev/dev-v2.0.json" for p in REPO.parents if (p / "shared").is_dir()),
    REPO.parent / "shared/data/squad2-dev/dev-v2.0.json",
)

from reader_data import split_titles  # noqa: E402

from bench.choose_questions import OFF_TOPIC  # noqa: E402
from bench.docqa_score import Outcome, Summary, best_f1, exact, holds, print_table  # noqa: E402
from bench.progress import Ticker  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from overlay.answering.answers import extractive  # noqa: E402
from overlay.answering.spans import normalize  # noqa: E402
from overlay.choosing.sentences import (  # noqa: E402
    SentenceWeights,
    calibrate,
    rank_sentences,
    sentence_candidates,
)
from overlay.choosing.views import best_sentence  # noqa: E402
from overlay.services import build_services  # noqa: E402
from overlay.settings import Settings  # noqa: E402
from overlay.turn import Answer, ask, retrieve  # noqa: E402

METHODS = ("hybrid", "naive", "choose", "generate", "read")
COLL = "squad"


def docs_dir(name: str) -> Path:
    """An emptied folder at a fixed path for a benchmark's documents. A chunk's id hashes its
    source's path and RRF breaks ties on ids, so documents under a fresh temporary folder each
    run made hybrid's order, and every answer after it, move between runs of the same code."""
    path = Path(tempfile.gettempdir()) / f"overlay-bench-{name}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def cpu_flags() -> str:
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return platform.processor() or "unknown"
    keep = [f for f in flags if f.startswith(("avx512", "avx2", "amx", "fma"))]
    return " ".join(sorted(keep)) or "no avx"


def questions(articles: dict, titles: list[str], n: int, seed: int) -> list[dict]:
    """``n`` answerable and ``n`` unanswerable questions of ``titles``, sampled."""
    rng = random.Random(seed)
    ans, una = [], []
    for t in titles:
        for p in articles[t]["paragraphs"]:
            for qa in p["qas"]:
                row = {"q": qa["question"], "title": t, "golds": [a["text"] for a in qa["answers"]]}
                (una if qa.get("is_impossible") else ans).append(row)
    pick = [{**r, "kind": "answerable"} for r in rng.sample(ans, n)]
    return pick + [{**r, "kind": "unanswerable"} for r in rng.sample(una, n)]


def outcome(row: dict, text: str, abstained: bool, source: str | None, secs: float,
            generated: bool, cited: str = "") -> Outcome:  # fmt: skip
    out = Outcome(row["kind"], text, abstained, source, secs, generated)
    if row["kind"] == "answerable" and not abstained:
        out.f1, out.em = best_f1(text, row["golds"]), exact(text, row["golds"])
        out.right_article = source is not None and Path(source).stem == row["title"]
        out.answer_in_cited = holds(cited, row["golds"])
    return out


def run_row(svc, row: dict, with_generate: bool) -> tuple[dict[str, Outcome], Answer]:
    """Every method on one question. ``choose`` is the extractive answer from the same
    ``Choice`` the read turn made (what ``ask(mode="choose")`` returns, deterministic), timed
    as that turn's retrieve + choose stages, so the slow machine scores each question once."""
    t0 = time.perf_counter()
    top = retrieve(svc, row["q"], COLL, k=1, method="hybrid")[0]
    secs = time.perf_counter() - t0
    outs = {
        "hybrid": outcome(row, top.text, False, top.source, secs, False, top.text),
        "naive": outcome(row, best_sentence(row["q"], top.text), False, top.source, secs, False,
                         top.text),
    }  # fmt: skip
    t0 = time.perf_counter()
    read = ask(svc, row["q"], collection=COLL)
    secs = time.perf_counter() - t0
    outs["read"] = outcome(row, read.answer, read.abstained, _source(read), secs,
                           read.completion_tokens > 0, _cited(read))  # fmt: skip
    choice = read.choice
    if choice is not None:
        staged = (read.timings_ms["retrieve"] + read.timings_ms["choose"]) / 1000
        if choice.abstained:
            outs["choose"] = outcome(row, read.answer, True, None, staged, False)
        else:
            draft = extractive(row["q"], [c.hit.text for c in choice.chosen])
            hit = choice.chosen[draft.cited[0] - 1].hit
            outs["choose"] = outcome(row, draft.text, False, hit.source, staged, False, hit.text)
    if with_generate:
        t0 = time.perf_counter()
        gen = ask(svc, row["q"], collection=COLL, mode="generate")
        outs["generate"] = outcome(row, gen.answer, gen.abstained, _source(gen),
                                   time.perf_counter() - t0, gen.completion_tokens > 0,
                                   _cited(gen))  # fmt: skip
    return outs, read


def _source(answer: Answer) -> str | None:
    return answer.citations[0].hit.source if answer.citations else None


def _cited(answer: Answer) -> str:
    return answer.citations[0].hit.text if answer.citations else ""


def sentence_examples(pairs: list[tuple[dict, Answer]]) -> list:
    """Per answerable question: the chosen passages' sentence candidates, which hold gold."""
    out = []
    for row, answer in pairs:
        if answer.choice is None or not answer.choice.chosen:
            continue
        passages = [(c.hit.text, c.score, c.rank) for c in answer.choice.chosen]
        cands = [c for _, cs in sentence_candidates(row["q"], passages) for c in cs]
        golds = [f" {normalize(g)} " for g in row["golds"]]
        out.append((cands, [any(g in f" {normalize(c.text)} " for g in golds) for c in cands]))
    return out


def hit_rate(examples: list, w: SentenceWeights) -> float:
    hits = [gold[list(c).index(rank_sentences(c, w)[0])] for c, gold in examples if c]
    return sum(hits) / max(1, len(hits))


def ingest(svc, articles: dict, folder: Path) -> None:
    """One source per article: its paragraphs as blank-line separated text."""
    folder.mkdir()
    for title, art in articles.items():
        text = "\n\n".join(p["context"].strip() for p in art["paragraphs"])
        (folder / f"{title}.txt").write_text(text, encoding="utf-8")
    t0 = time.perf_counter()
    report = ingest_paths(svc, [folder], collection=COLL)
    print(f"ingested {len(articles)} articles in {time.perf_counter() - t0:.0f} s "
          f"(failed {report.failed})", flush=True)  # fmt: skip


def evaluate(svc, sets: dict[str, list[dict]], off: list[dict], n_gen: int) -> dict:
    results: dict[str, dict[str, Summary]] = {}
    reads: dict[str, list] = {}
    ticker = Ticker(sum(len(v) for v in sets.values()) + len(off))
    for name, rows in {**sets, "off-corpus": off}.items():
        results[name] = {m: Summary() for m in METHODS}
        reads[name] = []
        seen: dict[str, int] = {}
        for row in rows:
            seen[row["kind"]] = seen.get(row["kind"], 0) + 1
            outs, read = run_row(svc, row, seen[row["kind"]] <= n_gen)
            for method, out in outs.items():
                results[name][method].outcomes.append(out)
            if row["kind"] == "answerable":
                reads[name].append((row, read))
            ticker.tick()
    ticker.close()
    return {"results": results, "reads": reads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20, help="answerable (and unanswerable) per set")
    ap.add_argument("--n-gen", type=int, default=2, help="questions per group for generate")
    ap.add_argument("--n-off", type=int, default=10, help="off-corpus questions")
    ap.add_argument("--distractors", type=int, default=16, help="training articles ingested")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--squad", type=Path, default=SQUAD, help="SQuAD 2.0 json")
    args = ap.parse_args()
    print(f"CPU flags: {cpu_flags()}")
    articles = {a["title"]: a for a in json.loads(args.squad.read_text())["data"]}
    split = split_titles(list(articles))
    print(f"dev articles: {split['dev']}\nheld-out articles: {split['heldout']}")
    keep = [*split["dev"], *split["heldout"], *split["train"][: args.distractors]]
    print(f"{len(keep)} articles ingested, {len(keep) - 6} of them distractors (train split)")
    sets = {
        "held-out": questions(articles, split["heldout"], args.n, args.seed),
        "dev": questions(articles, split["dev"], args.n, args.seed),
    }
    off = [{"q": q, "title": "", "golds": [], "kind": "off"} for q in OFF_TOPIC[: args.n_off]]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), models_dir=REPO / ".cache" / "models")
        svc = build_services(settings)
        try:
            ingest(svc, {t: articles[t] for t in keep}, docs_dir("docqa"))
            data = evaluate(svc, sets, off, args.n_gen)
        finally:
            svc.close()
    for name, rows in sets.items():
        gold = statistics.median(
            len(min(r["golds"], key=len).split()) for r in rows if r["kind"] == "answerable"
        )
        table = {m: s.row() for m, s in data["results"][name].items()}
        print_table(f"{name} articles, {args.n} answerable + {args.n} unanswerable", table, gold)
    print_table("off-corpus", {m: s.row() for m, s in data["results"]["off-corpus"].items()}, 0)
    report_calibration(data["reads"], settings)


def report_calibration(reads: dict, settings: Settings) -> None:
    dev, held = sentence_examples(reads["dev"]), sentence_examples(reads["held-out"])
    fitted, dev_hit = calibrate(dev)
    now = SentenceWeights(
        1.0, settings.choose.sentence_passage_weight, settings.choose.sentence_rank_weight
    )
    print("\n## sentence fusion: hit@1 (a sentence holding the gold answer ranked first)")
    print("| weights (answer, passage, rank) | dev | held-out |\n|---|---|---|")
    for label, w in (("settings", now), ("fitted on dev", fitted),
                     ("answer cues only", SentenceWeights(1.0, 0.0, 0.0))):  # fmt: skip
        print(f"| {label} ({w.answer:g}, {w.passage:g}, {w.rank:g}) | "
              f"{hit_rate(dev, w):.3f} | {hit_rate(held, w):.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
