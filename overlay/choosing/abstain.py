"""The answer gate: whether the best chosen passage is worth answering from, or "I don't know".

A single floor on one candidate's evidence mixes up two questions that look alike to a small
model: a generic question the documents do answer ("How do you tell users of changes?") and a
question they do not ("Which river flows through Budapest?" of a Warsaw article). The gate reads
more of the choosing pass than one number, all of it already computed there:

    the best candidate's query-likelihood margin, span evidence, embedding similarity and share
    of the question's terms; the best of each over all candidates; how much the best stands out;
    how predictable the question is with no passage at all
        ─► standardised ─► logistic ─► P(the first citation holds the answer)
        ─► below the threshold fitted with the weights: abstain

The weights (``overlay/builtin_readers/span/gate.json``) were fitted by ``scripts/gate_fit.py``
on development data only: SQuAD DEV articles (answerable and unanswerable), TAT-QA DEV reports,
off-topic questions and questions asked of another domain's collection. PolicyQA never; the
held-out sets it is measured on are listed in the file's card.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from memory.types import CollectionSize, Hit
from overlay.choosing.fusion import Choice, ReadSpan
from overlay.choosing.scoring import Scores
from overlay.choosing.views import terms

GATE_FILE = Path(__file__).resolve().parent.parent / "builtin_readers" / "span" / "gate.json"
NAMES = (
    "margin",  # the best candidate's query-likelihood margin over no passage (nats a token)
    "margin_max",  # the highest margin of any candidate
    "margin_gap",  # the best's margin over the others' mean
    "evidence",  # the best's span evidence (0 where the head read no span)
    "evidence_max",
    "dense",  # the best's embedding similarity to the question (0 where only BM25 found it)
    "dense_max",
    "coverage",  # share of the question's terms in the best candidate
    "coverage_any",  # share of them in any candidate
    "baseline",  # mean log-prob of the question with no passage: generic questions score high
    "terms",  # log(1 + number of the question's terms)
)


def features(
    question: str,
    hits: Sequence[Hit],
    margins: Sequence[float],
    reads: Sequence[ReadSpan | None],
    baseline: float,
    best: int,
) -> list[float]:
    """The gate's inputs (``NAMES``) for ``question`` whose best candidate is ``hits[best]``."""
    asked = set(terms(question))
    held = [set(terms(h.text)) for h in hits]
    dense = [max(0.0, float(h.metadata.get("dense_score") or 0.0)) for h in hits]
    evidence = [r.evidence if r else 0.0 for r in reads]
    others = [m for i, m in enumerate(margins) if i != best]

    def share(found: set[str]) -> float:
        return len(asked & found) / len(asked) if asked else 0.0

    return [
        margins[best],
        max(margins),
        margins[best] - (statistics.mean(others) if others else 0.0),
        evidence[best],
        max(evidence),
        dense[best],
        max(dense),
        share(held[best]),
        share(set().union(*held)),
        baseline,
        math.log1p(len(asked)),
    ]


@dataclass(frozen=True)
class Gate:
    """A logistic over standardised ``features``: P(the first citation holds the answer).

    ``threshold`` was fitted on large collections (hundreds of chunks, many documents), where
    some chunk is near any question; ``small_threshold`` on collections of one document of at
    most ``small_chunks`` chunks, where a question the document does not answer finds nothing
    that agrees with it and scores lower (``threshold_for``)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5  # below it the turn abstains (fitted with the weights)
    small_threshold: float | None = None  # the threshold of a collection of one document
    small_chunks: int = 0  # ... of at most this many chunks (the largest it was fitted on)

    def probability(self, x: Sequence[float]) -> float:
        parts = zip(self.weights, x, self.mean, self.scale, strict=True)
        z = self.bias + sum(w * (v - m) / s for w, v, m, s in parts)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def threshold_for(self, size: CollectionSize | None) -> float:
        """The threshold of a collection of ``size`` (None: unknown, the large one)."""
        small = self.small_threshold
        if small is None or size is None or size.sources != 1 or size.chunks > self.small_chunks:
            return self.threshold
        return small

    def to_json(self) -> dict:
        small = {"threshold": self.small_threshold, "chunks": self.small_chunks}
        return {"names": list(NAMES), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "bias": self.bias,
                "threshold": self.threshold,
                **({"small": small} if self.small_threshold is not None else {})}  # fmt: skip


_loaded: dict[Path, Gate | None] = {}


def load_gate(path: Path = GATE_FILE) -> Gate | None:
    """The shipped gate (``None`` where there is none, or it was fitted on other features)."""
    if path not in _loaded:
        gate = None
        if path.is_file():
            raw = json.loads(path.read_text())
            if tuple(raw.get("names", ())) == NAMES:
                small = raw.get("small") or {}
                gate = Gate(tuple(raw["mean"]), tuple(raw["scale"]), tuple(raw["weights"]),
                            float(raw["bias"]), float(raw["threshold"]),
                            small.get("threshold"), int(small.get("chunks", 0)))  # fmt: skip
        _loaded[path] = gate
    return _loaded[path]


def gated(
    choice: Choice, question: str, hits: Sequence[Hit], scores: Scores,
    reads: Sequence[ReadSpan | None], *, floor: float, top_n: int, gate: Gate | None = None,
    size: CollectionSize | None = None,
) -> None:  # fmt: skip
    """Let the gate decide ``choice``'s abstention, in place: the best candidate is cited first
    when the gate passes it (at the threshold of a collection of ``size``), then up to
    ``top_n - 1`` others whose evidence clears ``floor``; nothing when it does not. A best
    candidate a vote or a memory's floor lifted keeps the floor's decision (the gate never saw
    either). ``choice.notes["gate"]``: the probability."""
    gate = gate or load_gate()
    if gate is None or not choice.ranked:
        return
    top = choice.ranked[0]
    if top.learned or top.hit.metadata.get("memory_evidence"):
        return
    x = features(question, hits, scores.margins, reads, scores.baseline, top.rank)
    p = gate.probability(x)
    choice.notes["gate"] = p
    others = [c for c in choice.ranked[1:] if c.evidence >= floor][: top_n - 1]
    choice.chosen = [top, *others] if p >= gate.threshold_for(size) else []
