"""Build the reader adapter's training data and its dev / held-out evaluation sets.

Source: /work/shared/data/squad2-dev/dev-v2.0.json (SQuAD 2.0 development half, 16 articles,
CC BY-SA 4.0). Split BY ARTICLE, deterministically, on the titles sorted by Python's ``sorted``
(position i = 0..15):

- held out (i % 4 == 3, reported only, never tuned on):
  Force, Immune_system, Packet_switching, Yuan_dynasty
- dev (i % 8 == 1, hyper-parameters and prompt): Computational_complexity_theory, Islamism
- train (the other 10): 1973_oil_crisis, European_Union_law, French_and_Indian_War,
  Harvard_University, Huguenot, Imperialism, Normans, Scottish_Parliament, Steam_engine, Warsaw

Training lines (answerable questions only, at most ``PER_ARTICLE`` per train article) are chat
``{"messages"}`` built by ``scripts/reader_prompt.reader_messages``; the passage is the sentence
holding the gold span plus 0-2 random neighbouring sentences on each side, or (share
``WHOLE_SHARE``) the whole paragraph when it is at most ``WHOLE_MAX_CHARS`` characters. The
assistant's reply is the gold span (the most frequent annotator answer, shortest on ties).

Eval lines (``{"id", "title", "question", "passage", "paragraph", "answers"}``) use a
deterministic window: the answer sentence plus one sentence on each side.

With ``--tatqa FILE`` (TAT-QA text spans, CC BY 4.0) the TRAIN reports of
``span_data.tatqa_split`` (report id hashes to 4-9 of 10; the same split the span head uses) add
every question, ``--tatqa-repeat`` times: their gold spans are clauses (median ~10 words), the
kind of answer SQuAD's 1-3-word spans never teach. DEV reports' questions become the eval set
``tatqa-dev.jsonl``; ``test.json`` is never read.

With ``--no-answer N`` up to N unanswerable questions of each train article are added, shown
the window the chooser would show (the paragraph's sentence sharing the most words with the
question, 0-2 neighbours each side, or the whole paragraph), replying ``NO_ANSWER``; with
``--wrong-window N`` up to N answerable questions of each, shown the closest window of their
paragraph that does not hold any gold answer, replying the same. The reader then says when a
window does not answer, which read mode turns into "I don't know" (``answer.reader_no_answer``).

    python scripts/reader_data.py [--squad FILE] [--out examples/adapters/reader.jsonl]
                                  [--eval-dir /tmp/reader-eval] [--per-article N]
                                  [--tatqa FILE --tatqa-repeat N]
                                  [--no-answer N] [--wrong-window N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reader_prompt import NO_ANSWER, reader_messages  # noqa: E402

SQUAD = Path("/work/shared/data/squad2-dev/dev-v2.0.json")
SEED = 13
PER_ARTICLE = 80  # 10 train articles → 800 pairs
WHOLE_SHARE = 0.2
WHOLE_MAX_CHARS = 1400  # ~350 tokens, well inside the trainer's 512-token limit
EVAL_PER_ARTICLE = {"dev": 20, "heldout": 15}  # 40 dev, 60 held-out questions


def split_titles(titles: list[str]) -> dict[str, list[str]]:
    """The deterministic article split on the sorted titles."""
    parts: dict[str, list[str]] = {"train": [], "dev": [], "heldout": []}
    for i, title in enumerate(sorted(titles)):
        part = "heldout" if i % 4 == 3 else "dev" if i % 8 == 1 else "train"
        parts[part].append(title)
    return parts


_SENT = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")


def sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences (a simple splitter: end mark, space, capital/digit)."""
    spans, start = [], 0
    for m in _SENT.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def gold_answer(qa: dict) -> tuple[str, int]:
    """Most frequent annotator answer (shortest on ties) and its start offset."""
    counts = Counter(a["text"] for a in qa["answers"])
    text = min(counts, key=lambda t: (-counts[t], len(t)))
    start = next(a["answer_start"] for a in qa["answers"] if a["text"] == text)
    return text, start


def window(context: str, start: int, end: int, left: int, right: int) -> str:
    """The sentences covering [start, end) plus ``left``/``right`` neighbours."""
    spans = sentences(context)
    first = next((i for i, (a, b) in enumerate(spans) if a <= start < b + 1), 0)
    last = next((i for i, (a, b) in enumerate(spans) if a < end <= b + 1), len(spans) - 1)
    last = max(last, first)
    lo, hi = max(0, first - left), min(len(spans) - 1, last + right)
    return context[spans[lo][0] : spans[hi][1]].strip()


def answerable(article: dict) -> list[tuple[dict, dict]]:
    return [
        (p, qa)
        for p in article["paragraphs"]
        for qa in p["qas"]
        if not qa.get("is_impossible") and qa["answers"]
    ]


def unanswerable(article: dict) -> list[tuple[dict, dict]]:
    return [(p, qa) for p in article["paragraphs"] for qa in p["qas"] if qa.get("is_impossible")]


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the of in on at to for by with from and or is are was were be been what which who whom"
    " whose when where why how did do does that this these those it its as than into".split()
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def closest_window(
    context: str, question: str, rng: random.Random, avoid: str | None = None
) -> str | None:
    """The paragraph's sentence sharing the most words with ``question`` (the kind the chooser
    shows) plus 0-2 random neighbours each side, or (share ``WHOLE_SHARE``) the whole paragraph;
    with ``avoid``, only sentences without it and a window that does not hold it (None: none)."""
    spans = sentences(context)
    asked = _words(question)
    ok = [i for i, (a, b) in enumerate(spans) if avoid is None or avoid not in context[a:b]]
    if not ok:
        return None
    if avoid is None and rng.random() < WHOLE_SHARE and len(context) <= WHOLE_MAX_CHARS:
        return context.strip()
    best = max(ok, key=lambda i: (len(asked & _words(context[slice(*spans[i])])), -i))
    lo, hi = best - rng.randint(0, 2), best + rng.randint(0, 2)
    while avoid is not None and lo < best and lo not in ok:
        lo += 1
    while avoid is not None and hi > best and hi not in ok:
        hi -= 1
    lo, hi = max(0, lo), min(len(spans) - 1, hi)
    if avoid is not None and any(i not in ok for i in range(lo, hi + 1)):
        lo = hi = best
    text = context[spans[lo][0] : spans[hi][1]].strip()
    return None if avoid is not None and avoid in text else text


def no_answer_lines(
    articles: list[dict], per_article: int, wrong_per_article: int, rng: random.Random
) -> tuple[list[dict], int]:
    """Lines whose reply is ``NO_ANSWER``: up to ``per_article`` unanswerable questions of each
    article with the window the chooser would show, and up to ``wrong_per_article`` answerable
    ones with the closest window of their paragraph that does not hold the answer."""
    lines, wrong = [], 0
    for article in articles:
        pairs = unanswerable(article)
        rng.shuffle(pairs)
        for para, qa in pairs[:per_article]:
            passage = closest_window(para["context"], qa["question"], rng)
            if passage:
                lines.append(_reply(passage, qa["question"], NO_ANSWER))
        pairs = answerable(article)
        rng.shuffle(pairs)
        kept = 0
        for para, qa in pairs:
            if kept >= wrong_per_article:
                break
            text, _ = gold_answer(qa)
            passage = closest_window(para["context"], qa["question"], rng, avoid=text)
            if passage and all(a["text"] not in passage for a in qa["answers"]):
                lines.append(_reply(passage, qa["question"], NO_ANSWER))
                kept += 1
        wrong += kept
    return lines, wrong


def _reply(passage: str, question: str, reply: str) -> dict:
    """A chat training line: the reader's prompt and ``reply`` as the assistant's turn."""
    msgs = reader_messages(passage, question)
    msgs.append({"role": "assistant", "content": reply})
    return {"messages": msgs}


def tatqa_lines(path: Path, rng: random.Random) -> tuple[list[dict], int]:
    """Chat lines for every question of the TRAIN reports (``span_data.tatqa_split``)."""
    from span_data import tatqa_split

    lines, skipped = [], 0
    for report in json.loads(path.read_text(encoding="utf-8"))["data"]:
        if tatqa_split(report["title"]) != "train":
            continue
        for para in report["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                text, start = gold_answer(qa)
                if ctx[start : start + len(text)] != text:
                    skipped += 1
                    continue
                passage = window(
                    ctx, start, start + len(text), rng.randint(0, 2), rng.randint(0, 2)
                )
                if text not in passage or len(passage) > WHOLE_MAX_CHARS:
                    skipped += 1
                    continue
                lines.append(_reply(passage, qa["question"], text.strip()))
    return lines, skipped


def tatqa_eval(path: Path) -> list[dict]:
    """Eval lines for the DEV reports' questions (answer sentence ± 1 sentence)."""
    from span_data import tatqa_split

    rows = []
    for report in json.loads(path.read_text(encoding="utf-8"))["data"]:
        if tatqa_split(report["title"]) != "dev":
            continue
        for para in report["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                text, start = gold_answer(qa)
                rows.append({
                    "id": qa["id"], "title": report["title"], "question": qa["question"],
                    "passage": window(ctx, start, start + len(text), 1, 1),
                    "paragraph": ctx, "answers": sorted({a["text"] for a in qa["answers"]}),
                })  # fmt: skip
    return rows


def build(
    squad: Path,
    out: Path,
    eval_dir: Path,
    per_article: int = PER_ARTICLE,
    tatqa: Path | None = None,
    tatqa_repeat: int = 1,
    no_answer: int = 0,
    wrong_window: int = 0,
) -> dict[str, object]:
    data = json.loads(squad.read_text(encoding="utf-8"))["data"]
    by_title = {a["title"]: a for a in data}
    parts = split_titles(list(by_title))
    rng = random.Random(SEED)
    lines, whole, skipped = [], 0, 0
    for title in parts["train"]:
        pairs = answerable(by_title[title])
        rng.shuffle(pairs)
        kept = 0
        for para, qa in pairs:
            if kept >= per_article:
                break
            ctx = para["context"]
            text, start = gold_answer(qa)
            if ctx[start : start + len(text)] != text:
                skipped += 1
                continue
            if rng.random() < WHOLE_SHARE and len(ctx) <= WHOLE_MAX_CHARS:
                passage = ctx.strip()
                whole += 1
            else:
                passage = window(
                    ctx, start, start + len(text), rng.randint(0, 2), rng.randint(0, 2)
                )
            if text not in passage:
                skipped += 1
                continue
            lines.append(_reply(passage, qa["question"], text.strip()))
            kept += 1
    squad_lines, tat = len(lines), 0
    nulls: list[dict] = []  # none asked: the random stream stays the older recipes' own
    wrong = 0
    if no_answer or wrong_window:
        nulls, wrong = no_answer_lines(
            [by_title[t] for t in parts["train"]], no_answer, wrong_window, rng
        )
    lines += nulls
    if tatqa is not None:
        extra, missed = tatqa_lines(tatqa, rng)
        lines += extra * tatqa_repeat
        tat, skipped = len(extra), skipped + missed
    rng.shuffle(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")

    eval_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for part in ("dev", "heldout"):
        rows = []
        for title in parts[part]:
            pairs = answerable(by_title[title])
            random.Random(f"{SEED}-{title}").shuffle(pairs)
            for para, qa in pairs[: EVAL_PER_ARTICLE[part]]:
                ctx = para["context"]
                text, start = gold_answer(qa)
                rows.append({
                    "id": qa["id"], "title": title, "question": qa["question"],
                    "passage": window(ctx, start, start + len(text), 1, 1),
                    "paragraph": ctx, "answers": sorted({a["text"] for a in qa["answers"]}),
                })  # fmt: skip
        (eval_dir / f"{part}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8"
        )
        counts[part] = len(rows)
    if tatqa is not None:
        rows = tatqa_eval(tatqa)
        (eval_dir / "tatqa-dev.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8"
        )
        counts["tatqa-dev"] = len(rows)
    return {
        "split": parts, "train_lines": len(lines), "squad_lines": squad_lines,
        "tatqa_questions": tat, "whole_paragraph": whole,
        "no_answer_lines": len(nulls), "wrong_window_lines": wrong,
        "skipped": skipped, "eval": counts, "out": str(out), "eval_dir": str(eval_dir),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", type=Path, default=SQUAD)
    ap.add_argument("--out", type=Path, default=Path("examples/adapters/reader.jsonl"))
    ap.add_argument("--eval-dir", type=Path, default=Path("/tmp/reader-eval"))
    ap.add_argument("--per-article", type=int, default=PER_ARTICLE)
    ap.add_argument("--tatqa", type=Path, default=None, help="TAT-QA text-span dev.json")
    ap.add_argument("--tatqa-repeat", type=int, default=1)
    ap.add_argument(
        "--no-answer",
        type=int,
        default=0,
        help="unanswerable questions per train article, answered NO_ANSWER",
    )
    ap.add_argument(
        "--wrong-window",
        type=int,
        default=0,
        help="answerable questions per train article shown a window without the "
        "answer, answered NO_ANSWER",
    )
    args = ap.parse_args()
    report = build(
        args.squad,
        args.out,
        args.eval_dir,
        args.per_article,
        args.tatqa,
        args.tatqa_repeat,
        args.no_answer,
        args.wrong_window,
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
