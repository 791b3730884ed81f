"""Fusing the model's scores with retrieval ranks and learned weights; choosing or abstaining.

Pure functions of their inputs (no model, no store), so tests run them directly.

Two numbers per candidate:

- **evidence** = the model's calibrated score (an absolute "this passage explains
  the question" in [0, 1]) plus the learned feedback boost, clamped to [0, 1].
  It alone decides abstention: retrieval always returns *something* first, so a
  retrieval rank says nothing about whether the answer is there at all.
- **score** = ``w_model · evidence + w_rank · rank_prior``, normalised by the
  weights' sum; it orders the candidates. ``rank_prior = 1 / (1 + rank / rank_scale)``
  keeps the retriever's opinion in play where the small model is unsure.

The top N by score among candidates whose evidence clears the threshold are
chosen; if none clears it, the answer abstains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from memory.errors import InvalidInput
from memory.types import Hit
from overlay.knobs import ChooseSettings

# The defaults are the settings' (overlay/knobs.py, with where each was measured); a caller
# with a ``Settings`` passes its values (``FusionWeights.of``), never numbers of its own.
_CHOOSE = ChooseSettings()


@dataclass(frozen=True)
class FusionWeights:
    """How much each signal counts in the ordering score."""

    model: float = _CHOOSE.model_weight
    rank: float = _CHOOSE.rank_weight
    learned: float = _CHOOSE.learned_weight
    rank_scale: float = _CHOOSE.rank_scale

    @classmethod
    def of(cls, s: ChooseSettings) -> FusionWeights:
        """The weights ``s`` (``settings.choose``) sets."""
        return cls(s.model_weight, s.rank_weight, s.learned_weight, s.rank_scale)

    def rank_prior(self, rank: int) -> float:
        return 1.0 / (1.0 + rank / self.rank_scale)


@dataclass
class Scored:
    """One candidate with every signal that went into its score."""

    hit: Hit
    rank: int  # 0-based position in the retrieval order
    model: float  # calibrated model score in [0, 1]
    learned: float  # feedback boost in [-1, 1]
    evidence: float  # model + learned, in [0, 1]: decides abstention
    score: float  # fused: orders the candidates


@dataclass(frozen=True)
class ReadSpan:
    """What the span reader read in one candidate: the answer's words (a span of the view, or
    its whole sentence), that sentence, the margin over "no answer" and its evidence."""

    text: str
    sentence: str
    margin: float
    evidence: float


@dataclass
class Choice:
    """The ranked candidates and the ones chosen to answer from (none = abstain)."""

    ranked: list[Scored]
    chosen: list[Scored]
    threshold: float
    notes: dict[str, float] = field(default_factory=dict)
    reads: dict[str, ReadSpan] = field(default_factory=dict)  # hit id → its span (read mode)

    @property
    def abstained(self) -> bool:
        return not self.chosen


def fuse(
    hits: Sequence[Hit],
    model_scores: Sequence[float],
    learned: Mapping[str, float] | None = None,
    weights: FusionWeights | None = None,
) -> list[Scored]:
    """Every candidate scored and sorted best first (ties keep the retrieval order)."""
    if len(hits) != len(model_scores):
        raise InvalidInput(f"{len(hits)} candidates but {len(model_scores)} model scores")
    w = weights or FusionWeights()
    learned = learned or {}
    total = (w.model + w.rank) or 1.0
    out = []
    for rank, (hit, m) in enumerate(zip(hits, model_scores, strict=True)):
        boost = max(-1.0, min(1.0, learned.get(hit.id, 0.0)))
        evidence = max(0.0, min(1.0, m + w.learned * boost))
        score = (w.model * evidence + w.rank * w.rank_prior(rank)) / total
        out.append(Scored(hit, rank, m, boost, evidence, score))
    out.sort(key=lambda s: (-s.score, s.rank))
    return out


def choose(
    hits: Sequence[Hit],
    model_scores: Sequence[float],
    *,
    learned: Mapping[str, float] | None = None,
    weights: FusionWeights | None = None,
    threshold: float = _CHOOSE.threshold,
    top_n: int = _CHOOSE.top_n,
) -> Choice:
    """Fuse, then pick the top ``top_n`` whose evidence clears ``threshold``."""
    if top_n < 1:
        raise InvalidInput("top_n must be at least 1")
    ranked = fuse(hits, model_scores, learned, weights)
    chosen = [s for s in ranked if s.evidence >= threshold][:top_n]
    return Choice(ranked, chosen, threshold)


def dedupe(hits: Sequence[Hit]) -> list[Hit]:
    """Drop repeated ids and repeated texts, keeping the first (best-ranked) occurrence."""
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    out = []
    for hit in hits:
        text = " ".join(hit.text.split()).lower()
        if hit.id in seen_ids or text in seen_texts:
            continue
        seen_ids.add(hit.id)
        seen_texts.add(text)
        out.append(hit)
    return out
