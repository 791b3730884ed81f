"""Learning from feedback without touching the model: votes move the semantic weight table.

Each answered question is logged (``memory.tables.asklog``). A vote on that turn bumps,
for every term of its question, the weight of the voted candidates under the
key ``fb:<term>`` — up for helpful, down otherwise, clamped to [-1, 1]. A second
key ``fbts:<term>`` keeps when each weight last moved; weights decay with a
half-life on read (and are re-based before each bump), so stale opinions fade. Both
read the time from ``clock`` (``time.time`` unless a caller, such as a test, passes its own).

``learned_boosts`` turns them into a per-candidate boost in [-1, 1] for a new
question: the mean over the question's terms of the decayed weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memory.errors import InvalidInput, NotFound
from memory.tables.asklog import TurnLog, TurnRecord
from overlay.choosing.views import terms

if TYPE_CHECKING:
    from overlay.services import Services

CAP = 1.0
Clock = Callable[[], float]  # seconds since the epoch


@dataclass
class FeedbackResult:
    """What one vote changed."""

    turn_id: str
    helpful: bool
    candidates: list[str]
    terms: list[str]
    boosts: dict[str, float]  # candidate → its boost for the turn's question, after the vote

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn_id": self.turn_id,
            "helpful": self.helpful,
            "candidates": self.candidates,
            "terms": self.terms,
            "boosts": {k: round(v, 4) for k, v in self.boosts.items()},
        }


def turn_log(services: Services) -> TurnLog:
    return TurnLog(
        services.redis.client, services.namespace, services.settings.feedback.turn_ttl_seconds
    )


def record_turn(
    services: Services, query: str, candidates: Sequence[str], cited: Sequence[str], collection: str
) -> TurnRecord:
    """Log an ask turn so that feedback can find it later."""
    return turn_log(services).record(query, candidates, cited, collection)


def _decay(weight: float, last: float | None, now: float, half_life_s: float) -> float:
    if last is None:
        return weight
    return weight * 0.5 ** (max(0.0, now - last) / half_life_s)


def record_feedback(
    services: Services,
    turn_id: str,
    helpful: bool,
    candidate_id: str | None = None,
    clock: Clock = time.time,
) -> FeedbackResult:
    """Vote on a logged turn: move its cited candidates (or ``candidate_id``) up or down."""
    rec = turn_log(services).get(turn_id)
    if rec is None:
        raise NotFound(f"turn {turn_id!r} is unknown or has expired")
    if candidate_id is not None and candidate_id not in {*rec.candidates, *rec.cited}:
        raise InvalidInput(f"candidate {candidate_id!r} was not among turn {turn_id!r}'s")
    targets = [candidate_id] if candidate_id else (rec.cited or rec.candidates[:1])
    qterms = list(dict.fromkeys(terms(rec.query)))
    s = services.settings
    delta = s.feedback.step if helpful else -s.feedback.step
    half_life = s.feedback.half_life_days * 86400
    w = services.weights
    now = clock()
    for term in qterms:
        key, ts_key = w.key("fb", term), w.key("fbts", term)
        for cand in targets:
            old = w.weight(key, cand) or 0.0
            w.add(key, {cand: _decay(old, w.weight(ts_key, cand), now, half_life)})
            w.bump(key, cand, delta, lo=-CAP, hi=CAP)
            w.add(ts_key, {cand: now})
    boosts = learned_boosts(services, rec.query, targets, clock)
    return FeedbackResult(turn_id, helpful, targets, qterms, boosts)


def learned_boosts(
    services: Services, query: str, candidate_ids: Sequence[str], clock: Clock = time.time
) -> dict[str, float]:
    """Per candidate, the mean decayed feedback weight over ``query``'s terms (in [-1, 1])."""
    qterms = list(dict.fromkeys(terms(query)))
    if not qterms or not candidate_ids:
        return {}
    w = services.weights
    keys = [w.key("fb", t) for t in qterms] + [w.key("fbts", t) for t in qterms]
    rows = w.get_many(keys)
    wanted = set(candidate_ids)
    half_life = services.settings.feedback.half_life_days * 86400
    now = clock()
    totals: dict[str, float] = {}
    for term in qterms:
        stamps = dict(rows[w.key("fbts", term)])
        for cand, weight in rows[w.key("fb", term)]:
            if cand in wanted:
                value = _decay(weight, stamps.get(cand), now, half_life)
                totals[cand] = totals.get(cand, 0.0) + value
    return {c: max(-CAP, min(CAP, v / len(qterms))) for c, v in totals.items() if v}
