"""Ranking of session lookups: earlier turns and facts scored for one question.

Pure functions of their inputs. A turn scores its
cosine similarity, plus ``lexical_weight`` times its BM25 score relative to the
best BM25 score of the lookup (``memory.stores.sparse`` over the session's turns), plus
a recency bonus that halves every ``halflife`` turns. Candidates are the union of
the dense and the lexical top lists. A fact scores its similarity plus a fixed
bonus, and more when the question names the fact's key by its words
(``memory.sessions.extract.cue_matches``); the fact bonuses never touch turns.

Weights were chosen on the LoCoMo development split (bench/memory_bench.py
prints dense-only against this ranking): the lexical score lifts evidence recall
@10 from 0.48 to 0.72 there, and any recency weight above 0 lowered it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from memory.sessions.extract import Fact, cue_matches
from memory.sessions.index import TurnTable
from memory.sessions.turns import Turn, TurnWeights
from memory.sessions.when import named_spans
from memory.types import Hit


def decay(age: int, halflife: float) -> float:
    """``0.5 ** (age / halflife)``; a negative age counts as 0."""
    return float(0.5 ** (max(age, 0) / max(halflife, 1e-9)))


def turn_hits(
    session: str,
    found: Iterable[Hit],
    last: int,
    exclude: set[int],
    recency_weight: float,
    halflife: float,
    lexical: dict[str, float] | None = None,
    lexical_weight: float = 0.0,
) -> list[Hit]:
    """Turn hits of ``session`` from dense (and lexical) candidates, with their bonuses.

    ``found`` holds each candidate once, scored by cosine similarity; ``lexical``
    maps a candidate's vector id (``t<turn>``) to its BM25 score.
    """
    lexical = lexical or {}
    top = max(lexical.values(), default=0.0) or 1.0
    out = []
    for h in found:
        n = int(h.metadata.get("turn", -1))
        if n in exclude:
            continue
        lex = lexical.get(h.id, 0.0) / top
        bonus = recency_weight * decay(last - n, halflife) + lexical_weight * lex
        out.append(
            Hit(
                id=f"turn:{session}:{n}",
                text=h.text,
                score=h.score + bonus,
                source=f"session:{session}",
                kind="turn",
                metadata={
                    "session": session,
                    "turn": n,
                    "role": h.metadata.get("role"),
                    "ts": h.metadata.get("ts"),
                    "similarity": h.score,
                    "lexical": lex,
                },
            )
        )
    return out


def fact_hits(
    session: str,
    facts: Sequence[Fact],
    sims: np.ndarray,  # (len(facts),) cosine similarity of each fact's text to the query
    query: str,
    fact_bonus: float,
    cue_bonus: float,
) -> list[Hit]:
    """Fact hits for ``query``: similarity + ``fact_bonus`` (+ ``cue_bonus`` on a cue)."""
    out = []
    for f, sim in zip(facts, sims, strict=True):
        cue = cue_matches(f.key, query)
        score = float(sim) + fact_bonus + (cue_bonus if cue else 0.0)
        meta = {"session": f.session, "key": f.key, "value": f.value, "ts": f.ts,
                "turn": f.turn, "history": f.history_line(), "similarity": float(sim),
                "cue": cue}  # fmt: skip
        out.append(Hit(id=f"fact:{session}:{f.key}", text=f.text, score=score,
                       source=f"session:{f.session}", kind="fact", metadata=meta))  # fmt: skip
    return out


def _date_match(
    turns: Sequence[Turn], spans: Sequence[tuple[float, float]], pad: float
) -> np.ndarray:
    out = np.zeros(len(turns), dtype=np.float32)
    for i, t in enumerate(turns):
        for a, b in spans:
            near = a <= t.ts <= b + pad
            if near or any(w["start"] <= b and w["end"] >= a for w in t.when):
                out[i] = 1.0
                break
    return out


def _sitting_mean(s: np.ndarray, sitting: np.ndarray, top: int = 3) -> np.ndarray:
    out = np.zeros_like(s)
    for k in np.unique(sitting):
        rows = sitting == k
        out[rows] = np.sort(s[rows])[::-1][:top].mean()
    return out


def turn_scores(table: TurnTable, vec: np.ndarray, query: str, w: TurnWeights) -> np.ndarray:
    """Every turn's score for ``query`` (see ``TurnWeights``), shape (N,)."""
    dense = (1 - w.context) * (table.alone @ vec) + w.context * (table.context @ vec)  # (N,)
    lex = table.lexical.scores(query)
    s = dense + w.lexical * lex / (float(lex.max()) or 1.0)
    low = query.lower()
    s += w.speaker * np.array([bool(t.speaker) and t.speaker.lower() in low for t in table.turns])
    spans = named_spans(query)
    if spans and w.date:
        s += w.date * _date_match(table.turns, spans, w.date_pad_days * 86400)
    if w.neighbour and len(s) > 1:
        s = s + w.neighbour * np.maximum(np.r_[s[1:], -np.inf], np.r_[-np.inf, s[:-1]])
    if w.sitting:
        s = s + w.sitting * _sitting_mean(s, table.sitting)
    # back to one turn's scale (a turn whose neighbours and sitting score as it does keeps its
    # own score), so that facts and the relevance floor compare with turns as before
    return s / ((1 + w.neighbour) * (1 + w.sitting))


def rank_turns(scores: np.ndarray, allowed: np.ndarray, n: int, spread: float) -> list[int]:
    """Rows of the ``n`` best allowed turns, best first; each pick lowers its neighbours by
    ``spread`` (two adjacent turns that say one thing should not fill two places)."""
    s = np.where(allowed, scores, -np.inf).astype(np.float64)
    out: list[int] = []
    for _ in range(min(n, int(allowed.sum()))):
        i = int(np.argmax(s))
        out.append(i)
        s[i] = -np.inf
        for j in (i - 1, i + 1):
            if 0 <= j < len(s):
                s[j] -= spread
    return out


def table_hits(
    session: str, table: TurnTable, rows: Sequence[int], scores: np.ndarray, vec: np.ndarray,
    query: str,
) -> list[Hit]:  # fmt: skip
    """Hits of the ``rows`` of ``table`` with their whole-session ``scores``."""
    lex = table.lexical.scores(query)
    lex /= float(lex.max()) or 1.0
    out = []
    for i in rows:
        t = table.turns[i]
        meta = {"session": session, "turn": t.id, "role": t.role, "ts": t.ts,
                "similarity": float(table.alone[i] @ vec), "speaker": t.speaker or None,
                "when": t.when or None, "lexical": float(lex[i])}  # fmt: skip
        out.append(Hit(id=f"turn:{session}:{t.id}", text=t.text, score=float(scores[i]),
                       source=f"session:{session}", kind="turn", metadata=meta))  # fmt: skip
    return out
