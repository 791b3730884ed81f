"""Training and development examples for the span reader (``overlay/answering/span_head.py``).

Sources, all development data that may be trained on:

- SQuAD 2.0 development half (``../shared/data/squad2-dev``, CC BY-SA 4.0): every answerable AND
  unanswerable question of the 10 TRAIN articles of ``reader_data.split_titles``; the 2 DEV
  articles are for fitting thresholds; the 4 HELD-OUT articles are never read here.
- TAT-QA text spans (``../shared/data/tatqa-text/dev.json``, CC BY 4.0, Zhu et al., ACL 2021):
  reports whose id hashes to 0-3 (of 0-9) are DEV (thresholds), the rest TRAIN. ``test.json`` is
  never read here.
- PolicyQA is never read here (measure only; its texts are licensed non-commercially).

A context is cut into WINDOWS of whole sentences (at most ``max_tokens`` model tokens, the
budget drawn per context from ``WINDOW_TOKENS``), the shape of the chooser's views. A question
(at most ``PER_PARAGRAPH`` per SQuAD paragraph, half unanswerable) is paired with the window that
holds its answer plus ``NEGATIVES`` other windows of the same context: the window holding the
gold span is a positive (its character span), every other window and every window of an
unanswerable question is a no-answer example.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reader_data import split_titles

DATA = next(
    (p / "shared/data" for p in Path(__file__).resolve().parents if (p / "shared/data").is_dir()),
    Path("/work/shared/data"),
)
WINDOW_TOKENS = (48, 80, 112)
NEGATIVES = 1  # other windows of the same context a question is paired with (no-answer)
PER_PARAGRAPH = 4  # SQuAD questions per paragraph at most, half answerable, half not
_SENT = re.compile(r"(?<=[.!?;:])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*")


@dataclass
class Question:
    qid: str
    text: str
    answers: list[str]
    # (window index within its context, char start, char end) of the gold span, -1 = none
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    windows: list[int] = field(default_factory=list)  # windows it is paired with


@dataclass
class Context:
    domain: str  # "squad" | "tatqa"
    title: str
    split: str  # "train" | "dev"
    windows: list[str]
    questions: list[Question]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences (and of lines) of ``text``, whitespace trimmed."""
    spans, start = [], 0
    for m in _SENT.finditer(text):
        spans.append((start, m.start() + (len(m.group(0)) - len(m.group(0).lstrip("\"')]")))))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def cut_windows(text: str, max_tokens: int, count: Callable[[str], int]) -> list[tuple[int, int]]:
    """Contiguous runs of whole sentences, each within ``max_tokens`` (a longer sentence is a
    window of its own)."""
    out: list[tuple[int, int]] = []
    cur: tuple[int, int] | None = None
    for s, e in sentence_spans(text):
        if cur is not None and count(text[cur[0] : e]) <= max_tokens:
            cur = (cur[0], e)
            continue
        if cur is not None:
            out.append(cur)
        cur = (s, e)
    if cur is not None:
        out.append(cur)
    return out


def _locate(windows: list[tuple[int, int]], start: int, end: int) -> tuple[int, int, int] | None:
    for i, (ws, we) in enumerate(windows):
        if ws <= start and end <= we:
            return i, start - ws, end - ws
    return None


def _window_text(text: str, span: tuple[int, int]) -> str:
    return text[span[0] : span[1]].replace("\n", " ")  # same length: offsets hold


def _build(
    domain: str, title: str, split: str, context: str, qas: list[dict],
    count: Callable[[str], int], rng: random.Random, pair_all: bool,
) -> Context:  # fmt: skip
    spans = cut_windows(context, rng.choice(WINDOW_TOKENS), count)
    ctx = Context(domain, title, split, [_window_text(context, s) for s in spans], [])
    if pair_all:  # SQuAD: a few questions per paragraph, answerable and not alike
        ans = [qa for qa in qas if not qa.get("is_impossible")]
        una = [qa for qa in qas if qa.get("is_impossible")]
        half = PER_PARAGRAPH // 2
        qas = rng.sample(ans, min(half, len(ans))) + rng.sample(una, min(half, len(una)))
    for qa in qas:
        answers = [a["text"] for a in qa.get("answers", []) if a["text"].strip()]
        q = Question(qa["id"], qa["question"].strip(), answers)
        if not qa.get("is_impossible") and answers:
            a = qa["answers"][0]
            hit = _locate(spans, a["answer_start"], a["answer_start"] + len(a["text"]))
            if hit is None:
                continue  # the gold span crosses windows: no clean label
            q.spans[hit[0]] = (hit[1], hit[2])
        others = [i for i in range(len(spans)) if i not in q.spans]
        others = rng.sample(others, min(NEGATIVES, len(others)))
        q.windows = sorted([*q.spans, *others])
        ctx.questions.append(q)
    return ctx


def squad_contexts(count: Callable[[str], int], seed: int = 13) -> Iterator[Context]:
    data = json.loads((DATA / "squad2-dev/dev-v2.0.json").read_text())["data"]
    parts = split_titles([a["title"] for a in data])
    rng = random.Random(seed)
    paragraphs = [(a["title"], p) for a in data if a["title"] not in parts["heldout"]
                  for p in a["paragraphs"]]  # fmt: skip
    rng.shuffle(paragraphs)  # a --limit takes a sample of every article
    for title, para in paragraphs:
        split = "dev" if title in parts["dev"] else "train"
        yield _build("squad", title, split, para["context"], para["qas"], count, rng,
                     pair_all=True)  # fmt: skip


def tatqa_split(title: str) -> str:
    return "dev" if int(hashlib.sha1(title.encode()).hexdigest(), 16) % 10 < 4 else "train"


def tatqa_contexts(count: Callable[[str], int], seed: int = 13) -> Iterator[Context]:
    data = json.loads((DATA / "tatqa-text/dev.json").read_text())["data"]
    rng = random.Random(seed)
    for report in data:
        for para in report["paragraphs"]:
            yield _build("tatqa", report["title"], tatqa_split(report["title"]),
                         para["context"], para["qas"], count, rng, pair_all=False)  # fmt: skip
