"""Choosing at the answer's granularity: sentences inside the chosen passages.

Pure functions (no model, no store). Each sentence of the top passages gets three signals:

- **answer**: ``views.answer_scores`` — covers the question's terms, adds something new,
  holds the asked-for kind of thing (a date for *when*, …);
- **passage**: its passage's fused score from the chooser (the model's query likelihood
  fused with the retrieval rank), so a sentence inherits how well its passage explains
  the question;
- **rank**: its passage's retrieval rank prior ``1 / (1 + rank)`` — the retriever's order
  still counts where the model is unsure.

``score = w_answer · answer + w_passage · passage + w_rank · rank``; the weights are fitted
on development questions only (``calibrate``, run by ``bench/docqa_bench.py --calibrate``)
and the fitted values are the settings' defaults.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from overlay.choosing.views import answer_scores, split_sentences


@dataclass(frozen=True)
class SentenceWeights:
    """How much each signal counts when ordering sentences."""

    answer: float = 1.0
    passage: float = 1.0
    rank: float = 0.5


@dataclass
class SentenceCandidate:
    """One sentence of a chosen passage with the signals that order it."""

    passage: int  # index into the passages given (the chooser's chosen order)
    index: int  # the sentence's position in its passage
    text: str
    answer: float
    passage_score: float
    rank_prior: float
    score: float = 0.0


def sentence_candidates(
    query: str, passages: Sequence[tuple[str, float, int]]
) -> list[tuple[list[str], list[SentenceCandidate]]]:
    """Per passage ``(text, fused score, retrieval rank)``: its sentences and their candidates."""
    out = []
    for p, (text, fused, rank) in enumerate(passages):
        sentences = split_sentences(text)  # markup alone (badges, link definitions): none
        scores = answer_scores(query, sentences)
        prior = 1.0 / (1.0 + rank)
        cands = [
            SentenceCandidate(p, i, s, a, fused, prior)
            for i, (s, a) in enumerate(zip(sentences, scores, strict=True))
        ]
        out.append((sentences, cands))
    return out


def rank_sentences(
    candidates: Sequence[SentenceCandidate], weights: SentenceWeights | None = None
) -> list[SentenceCandidate]:
    """``candidates`` scored and sorted best first (ties: earlier passage, earlier sentence)."""
    w = weights or SentenceWeights()
    for c in candidates:
        c.score = w.answer * c.answer + w.passage * c.passage_score + w.rank * c.rank_prior
    return sorted(candidates, key=lambda c: (-c.score, c.passage, c.index))


GRID = (0.0, 0.25, 0.5, 1.0, 2.0)


def calibrate(
    examples: Sequence[tuple[Sequence[SentenceCandidate], Sequence[bool]]],
    grid: Sequence[float] = GRID,
) -> tuple[SentenceWeights, float]:
    """The weights (``answer`` fixed at 1) that put a sentence holding the answer first most
    often over ``examples`` (each: candidates and which of them hold the gold answer), and
    that hit rate. Ties keep the earlier grid point (smaller weights)."""
    if not examples:
        return SentenceWeights(), 0.0
    best, best_hits = SentenceWeights(), -1.0
    for wp, wr in itertools.product(grid, grid):
        w = SentenceWeights(1.0, wp, wr)
        hits = 0
        for cands, gold in examples:
            if cands:
                top = rank_sentences(cands, w)[0]
                hits += bool(gold[list(cands).index(top)])
        if hits > best_hits:
            best, best_hits = w, hits
    return best, best_hits / max(1, len(examples))
