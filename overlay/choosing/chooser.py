"""The choosing stage: the frozen model scores candidates, fusion orders them, a threshold
decides abstention. ``choose_among`` is the stage's one entry (it returns a ``Choice``);
``rerank`` is ``retrieve --method chosen``.

candidates ─► short views (the window that covers the question) ─► query likelihood
           ─► evidence (+ memory floors, feedback boosts) ─► fuse with the retriever's rank
           ─► top N above the threshold, or abstain
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from memory.types import CollectionSize, Hit
from overlay.choosing.abstain import gated
from overlay.choosing.feedback import learned_boosts
from overlay.choosing.fusion import Choice, FusionWeights, ReadSpan, Scored, choose, fuse
from overlay.choosing.scoring import (
    Calibration,
    Scores,
    score_views,
)
from overlay.choosing.span_head import LAYERS
from overlay.choosing.span_read import SpanReader, has_reader, load_reader, read_spans
from overlay.choosing.view_cache import VIEWS
from overlay.choosing.views import query_view, window_view
from overlay.knobs import AnswerSettings
from overlay.services import Services


def fusion_weights(services: Services) -> FusionWeights:
    s = services.settings
    return FusionWeights(
        s.choose.model_weight, s.choose.rank_weight, s.choose.learned_weight, s.choose.rank_scale
    )


def reads_in_pass(services: Services, mode: str) -> bool:
    """Whether a ``mode`` turn asks the span head to read every candidate in the choosing pass
    (read mode with ``answer.reader`` span or head)."""
    return mode == "read" and services.settings.answer.reader in ("span", "head")


def span_reader(services: Services, read: bool, adapter: str | None) -> SpanReader | None:
    """The span head that reads in the choosing pass, or None. The head read the bare base
    model's states: a request wearing its own adapter, or another base model, is read by the
    reader adapter instead (``turn._read``)."""
    if not read or adapter or not has_reader():
        return None
    reader = load_reader()
    return reader if reader.fits(services.model.model.config) else None


def candidate_views(services: Services, question: str, hits: Sequence[Hit]) -> list[str]:
    """What the model reads of each candidate: the window of its sentences that covers the
    question best (``views.window_view``; one of the windows ``warm`` reads ahead), or with
    ``choose.views`` "sentences" its best sentences (``views.query_view``, not read ahead)."""
    count, n = services.count_tokens, services.settings.choose.view_tokens
    view = window_view if services.settings.choose.views == "window" else query_view
    return [view(question, h.text, n, count) for h in hits]


def query_scores(
    services: Services,
    question: str,
    hits: Sequence[Hit],
    adapter: str | None = None,
    *,
    layers: Sequence[int] = (),
    views: Sequence[str] | None = None,
) -> Scores:
    """Query-likelihood log-probs, the passage-free baseline and calibrated scores (and, with
    ``layers``, the span reader's features from the same pass). ``views``: the candidates'
    views when the caller has them (``candidate_views``)."""
    s = services.settings
    views = candidate_views(services, question, hits) if views is None else views
    cal = Calibration(s.choose.margin_scale, s.choose.margin_center)
    cache = VIEWS.sized(s.choose.view_cache_mb << 20) if s.choose.view_cache_mb else None
    with services.run_model(adapter) as model:
        return score_views(
            model, services.model.tokenizer, question, views,
            batch_size=s.choose.batch_size, calibration=cal, layers=layers, cache=cache,
        )  # fmt: skip


def model_scores(
    services: Services, question: str, hits: Sequence[Hit], adapter: str | None = None
) -> list[float]:
    """Calibrated query-likelihood of ``question`` given each candidate's short view."""
    return query_scores(services, question, hits, adapter).calibrated if hits else []


def choose_among(
    services: Services,
    question: str,
    hits: Sequence[Hit],
    adapter: str | None = None,
    *,
    read: bool = False,
    size: CollectionSize | None = None,
) -> Choice:
    """Score ``hits`` with the model (wearing ``adapter``), fuse, and choose or abstain.

    ``read``: the span reader reads every candidate in the same pass (``Choice.reads``); its
    evidence joins the model score (``answer.span_weight``) and the answer gate
    (``overlay.choosing.abstain``; ``answer.span_threshold`` without it) decides abstention. A
    stored memory's ``metadata["memory_evidence"]`` is a floor under its model score.
    ``size``: the collection's, which sets the gate's threshold."""
    s = services.settings
    reader = span_reader(services, read and bool(hits), adapter)
    layers = LAYERS if reader is not None else ()
    views = candidate_views(services, question, hits)
    scored = (
        query_scores(services, question, hits, adapter, layers=layers, views=views)
        if hits
        else None
    )
    scores = scored.calibrated if scored else []
    reads: dict[str, ReadSpan] = {}
    spans: list[ReadSpan | None] = []
    if reader is not None and scored is not None and len(scored.features) == len(hits):
        spans = read_spans(reader, scored.features, views)
        scores = span_scores(s.answer, scores, spans, hits)
        reads = {h.id: sp for h, sp in zip(hits, spans, strict=True) if sp is not None}
    floors = [h.metadata.get("memory_evidence", 0.0) for h in hits]
    scores = [max(sc, fl) for sc, fl in zip(scores, floors, strict=True)]
    learned = learned_boosts(services, question, [h.id for h in hits])
    threshold = s.answer.span_threshold if reader is not None else s.choose.threshold
    choice = choose(
        list(hits), scores, learned=learned, weights=fusion_weights(services),
        threshold=threshold, top_n=s.choose.top_n,
    )  # fmt: skip
    choice.reads = reads
    if scored is not None and s.answer.gate and len(spans) == len(hits):
        gated(choice, question, hits, scored, spans, floor=threshold, top_n=s.choose.top_n,
              size=size)  # fmt: skip
    choice.notes["prompt_tokens"] = float(scored.tokens_read if scored else 0)
    return choice


def span_scores(
    a: AnswerSettings, likelihood: Sequence[float], spans: Sequence[ReadSpan | None],
    hits: Sequence[Hit],
) -> list[float]:  # fmt: skip
    """Span read mode's model score per candidate: ``span_weight`` of the span head's evidence,
    ``dense_weight`` of the question's embedding similarity to it (``dense_score``, where the
    dense retriever found it; 0 where only the sparse one did), the rest query likelihood."""
    ws, wd = a.span_weight, a.dense_weight
    return [
        max(0.0, 1 - ws - wd) * q + ws * (sp.evidence if sp else 0.0)
        + wd * max(0.0, float(h.metadata.get("dense_score") or 0.0))
        for q, sp, h in zip(likelihood, spans, hits, strict=True)
    ]  # fmt: skip


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
