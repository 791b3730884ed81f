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
