"""The choosing stage: the frozen model scores candidates, fusion orders them, a threshold
decides abstention. ``choose_among`` is the stage's one entry (it returns a ``Choice``);
``rerank`` is ``retrieve --method chosen``.

candidates ─► short views (most query-relevant sentences) ─► query likelihood (batched)
           ─► evidence (+ memory floors, feedback boosts) ─► fuse with the retriever's rank
           ─► top N above the threshold, or abstain
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from memory.types import Hit
from overlay.choosing.feedback import learned_boosts
from overlay.choosing.fusion import Choice, FusionWeights, Scored, choose, fuse
from overlay.choosing.scoring import (
    Calibration,
    Scores,
    score_views,
)
from overlay.choosing.views import query_view
from overlay.services import Services


def fusion_weights(services: Services) -> FusionWeights:
    s = services.settings
    return FusionWeights(
        s.choose.model_weight, s.choose.rank_weight, s.choose.learned_weight, s.choose.rank_scale
    )


def query_scores(
    services: Services, question: str, hits: Sequence[Hit], adapter: str | None = None
) -> Scores:
    """Query-likelihood log-probs, the passage-free baseline and calibrated scores."""
    s = services.settings
    count = services.count_tokens
    views = [query_view(question, h.text, s.choose.view_tokens, count) for h in hits]
    cal = Calibration(s.choose.margin_scale, s.choose.margin_center)
    with services.run_model(adapter) as model:
        return score_views(
            model, services.model.tokenizer, question, views,
            batch_size=s.choose.batch_size, calibration=cal,
        )  # fmt: skip


def model_scores(
    services: Services, question: str, hits: Sequence[Hit], adapter: str | None = None
) -> list[float]:
    """Calibrated query-likelihood of ``question`` given each candidate's short view."""
    return query_scores(services, question, hits, adapter).calibrated if hits else []


def choose_among(
    services: Services, question: str, hits: Sequence[Hit], adapter: str | None = None
) -> Choice:
    """Score ``hits`` with the model (wearing ``adapter``), fuse, and choose or abstain.

    A stored memory's ``metadata["memory_evidence"]`` is a floor under its model score."""
    s = services.settings
    scored = query_scores(services, question, hits, adapter) if hits else None
    scores = scored.calibrated if scored else []
    floors = [h.metadata.get("memory_evidence", 0.0) for h in hits]
    scores = [max(sc, fl) for sc, fl in zip(scores, floors, strict=True)]
    learned = learned_boosts(services, question, [h.id for h in hits])
    choice = choose(
        list(hits), scores, learned=learned, weights=fusion_weights(services),
        threshold=s.choose.threshold, top_n=s.choose.top_n,
    )  # fmt: skip
    choice.notes["prompt_tokens"] = float(scored.tokens_read if scored else 0)
    return choice


def rerank(services: Services, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
    """``hits`` re-ranked by the fused model score, the best ``k`` with their signals."""
    scores = model_scores(services, query, hits)
    learned = learned_boosts(services, query, [h.id for h in hits])
    ranked = fuse(list(hits), scores, learned, fusion_weights(services))
    return [_scored_hit(sc) for sc in ranked[:k]]


def _scored_hit(sc: Scored) -> Hit:
    meta = {**sc.hit.metadata, "model_score": sc.model, "evidence": sc.evidence}
    meta.update(retrieval_rank=sc.rank + 1, retrieval_score=sc.hit.score)
    return replace(sc.hit, score=sc.score, metadata=meta)
