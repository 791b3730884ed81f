"""One ask turn: gather candidates, let the frozen model choose, answer with citations.

retrieve (hybrid) ─┐
extra candidates ──┴─► dedupe, top M ─► model scores (batched) ─► fuse + threshold
    (session memory hook: ``gather_extra``)                          │
                                              none clears it ◄───────┤──► abstain
                                                                     ▼
                               answer: extractive (choose) or grounded (generate)
                                                                     ▼
                               turn logged (for feedback) ─► ``Answer``
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from memory.errors import InvalidInput, TooLarge
from memory.types import Hit
from overlay.answer import ABSTAIN_TEXT, Draft, PromptContext, extractive, grounded
from overlay.chooser import Choice, FusionWeights, Scored, choose, dedupe, fuse
from overlay.feedback import learned_boosts, record_turn
from overlay.model import get_model, model_for
from overlay.scoring import Calibration, Scores, score_views
from overlay.text import query_view

if TYPE_CHECKING:
    from overlay.services import Services

MODES = ("generate", "choose")


@dataclass
class Answer:
    """The outcome of one ask turn."""

    question: str
    answer: str
    abstained: bool
    citations: list[Scored]
    adapter: str | None
    mode: str
    collection: str
    timings_ms: dict[str, float]
    turn_id: str = ""
    choice: Choice | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [
                {
                    "id": c.hit.id,
                    "source": c.hit.source,
                    "text": c.hit.text,
                    "score": round(c.score, 4),
                }
                for c in self.citations
            ],
            "adapter": self.adapter,
            "mode": self.mode,
            "collection": self.collection,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "turn_id": self.turn_id,
        }


def gather_extra(
    services: Services, question: str, session: str | None, extra: Sequence[Hit] | None
) -> tuple[list[Hit], PromptContext]:
    """Hook for session memory: candidates beyond the documents, and prompt context.

    Returns extra candidates (memory hits, facts as ``Hit(kind="fact"|"turn")``)
    that compete with the documents, and the session's facts and recent turns for
    the prompt. With a session, the message is logged first (no model call).
    """
    if not session:
        return list(extra or []), PromptContext()
    from overlay.answer import SYSTEM
    from overlay.memory_api import session_turn

    tok = get_model(services).tokenizer
    turn = session_turn(
        services, question, session, lambda t: len(tok(t, add_special_tokens=False)["input_ids"]),
        SYSTEM,
    )  # fmt: skip
    return [*turn.candidates, *(extra or [])], PromptContext(turn.facts, turn.recent)


def fusion_weights(services: Services) -> FusionWeights:
    s = services.settings
    return FusionWeights(
        s.fuse_model_weight, s.fuse_rank_weight, s.fuse_learned_weight, s.fuse_rank_scale
    )


def model_scores(
    services: Services, question: str, hits: Sequence[Hit], adapter: str | None = None
) -> list[float]:
    """Calibrated query-likelihood of ``question`` given each candidate's short view."""
    return query_scores(services, question, hits, adapter).calibrated if hits else []


def query_scores(
    services: Services, question: str, hits: Sequence[Hit], adapter: str | None = None
) -> Scores:
    """Query-likelihood log-probs, the passage-free baseline and calibrated scores."""
    s = services.settings
    tok = get_model(services).tokenizer

    def count(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    views = [query_view(question, h.text, s.choose_view_tokens, count) for h in hits]
    cal = Calibration(s.choose_margin_scale, s.choose_margin_center)
    with model_for(services, adapter) as model:
        return score_views(
            model, tok, question, views, batch_size=s.choose_batch_size, calibration=cal
        )


def _gather(
    services: Services, question: str, collection: str, k: int, extra: list[Hit]
) -> list[Hit]:
    from overlay.candidates import retrieve

    m = services.settings.choose_top_m
    hits = retrieve(services, question, collection, k=max(k, m), method="hybrid")
    return dedupe([*extra, *hits[:m]])  # extras (memories) passed a relevance floor


def _check(services: Services, question: str, mode: str) -> None:
    if not question or not question.strip():
        raise InvalidInput("the question is empty")
    if len(question) > services.settings.max_message_chars:
        raise TooLarge(f"the question is longer than {services.settings.max_message_chars} chars")
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}: use generate or choose")


def ask(
    services: Services,
    question: str,
    *,
    collection: str | None = None,
    mode: str | None = None,
    adapter: str | None = None,
    session: str | None = None,
    k: int | None = None,
    extra_candidates: Sequence[Hit] | None = None,
) -> Answer:
    """Answer ``question`` from ``collection`` with citations, or abstain."""
    s = services.settings
    mode = mode or s.answer_mode
    collection = collection or s.collection
    _check(services, question, mode)
    t0 = time.perf_counter()
    extra, context = gather_extra(services, question, session, extra_candidates)
    hits = _gather(services, question, collection, k or s.top_k, extra)
    t1 = time.perf_counter()
    scores = model_scores(services, question, hits, adapter)
    floors = [h.metadata.get("memory_evidence", 0.0) for h in hits]  # stored facts' evidence
    scores = [max(sc, fl) for sc, fl in zip(scores, floors, strict=True)]
    learned = learned_boosts(services, question, [h.id for h in hits])
    choice = choose(
        hits, scores, learned=learned, weights=fusion_weights(services),
        threshold=s.choose_threshold, top_n=s.choose_top_n,
    )  # fmt: skip
    t2 = time.perf_counter()
    draft = _answer(services, question, choice, mode, adapter, context)
    t3 = time.perf_counter()
    if session:
        from overlay.memory_api import remember_answer

        remember_answer(services, session, draft.text)
    cited = [choice.chosen[n - 1] for n in draft.cited]
    turn = record_turn(
        services, question, [h.id for h in hits], [c.hit.id for c in cited], collection
    )
    timings = {"retrieve": t1 - t0, "choose": t2 - t1, "generate": t3 - t2, "total": t3 - t0}
    return Answer(
        question, draft.text, choice.abstained, cited, adapter, mode, collection,
        {k: v * 1000 for k, v in timings.items()}, turn.turn_id, choice,
    )  # fmt: skip


def _answer(
    services: Services,
    question: str,
    choice: Choice,
    mode: str,
    adapter: str | None,
    context: PromptContext,
) -> Draft:
    if choice.abstained:
        return Draft(ABSTAIN_TEXT, [])
    texts = [c.hit.text for c in choice.chosen]
    if mode == "choose":
        return extractive(question, texts)
    s = services.settings
    bm = get_model(services)

    def count(text: str) -> int:
        return len(bm.tokenizer(text, add_special_tokens=False)["input_ids"])

    views = [query_view(question, t, 2 * s.choose_view_tokens, count) for t in texts]
    with model_for(services, adapter) as model:
        return grounded(
            model, bm.tokenizer, question, views, context=context,
            budget=s.context_budget, max_new_tokens=s.max_new_tokens,
        )  # fmt: skip


def choose_candidates(services: Services, query: str, *, collection: str, k: int) -> list[Hit]:
    """``retrieve --method chosen``: hybrid candidates re-ranked by the fused model score."""
    from overlay.candidates import retrieve

    m = max(k, services.settings.choose_top_m)
    hits = dedupe(retrieve(services, query, collection, k=m, method="hybrid"))
    scores = model_scores(services, query, hits)
    learned = learned_boosts(services, query, [h.id for h in hits])
    ranked = fuse(hits, scores, learned, fusion_weights(services))
    return [_scored_hit(sc) for sc in ranked[:k]]


def _scored_hit(sc: Scored) -> Hit:
    meta = {**sc.hit.metadata, "model_score": sc.model, "evidence": sc.evidence}
    meta.update(retrieval_rank=sc.rank + 1, retrieval_score=sc.hit.score)
    return replace(sc.hit, score=sc.score, metadata=meta)
