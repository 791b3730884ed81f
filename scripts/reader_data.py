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

    python scripts/reader_data.py [--squad FILE] [--out examples/adapters/reader.jsonl]
                                  [--eval-dir /tmp/reader-eval]
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
from reader_prompt import reader_messages  # noqa: E402

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


def build(squad: Path, out: Path, eval_dir: Path) -> dict[str, object]:
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
            if kept >= PER_ARTICLE:
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
            msgs = reader_messages(passage, qa["question"])
            msgs.append({"role": "assistant", "content": text.strip()})
            lines.append({"messages": msgs})
            kept += 1
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
    return {"split": parts, "train_lines": len(lines), "whole_paragraph": whole,
            "skipped": skipped, "eval": counts, "out": str(out), "eval_dir": str(eval_dir)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", type=Path, default=SQUAD)
    ap.add_argument("--out", type=Path, default=Path("examples/adapters/reader.jsonl"))
    ap.add_argument("--eval-dir", type=Path, default=Path("/tmp/reader-eval"))
    args = ap.parse_args()
    print(json.dumps(build(args.squad, args.out, args.eval_dir), indent=2))


if __name__ == "__main__":
    main()
