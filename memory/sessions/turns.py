"""A conversation turn, its validation, and session memory's knobs."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from memory.errors import InvalidInput

_SESSION = re.compile(r"^[\w.:@+=-]{1,128}$")
ROLES = ("user", "assistant", "system")


def validate_session(session: str) -> str:
    if not isinstance(session, str) or not _SESSION.match(session):
        raise InvalidInput(
            f"invalid session id {session!r}: use 1-128 letters, digits or . : @ + = - _"
        )
    return session


@dataclass
class Turn:
    """One logged turn: who said it (``role``, and ``speaker``'s name when known), when
    (``ts``, epoch seconds) and the relative times in it resolved against ``ts``
    (``when``: ``memory.sessions.when.resolve_times``)."""

    id: int
    role: str
    text: str
    ts: float
    speaker: str = ""
    when: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "role": self.role, "text": self.text, "ts": self.ts}
        if self.speaker:
            out["speaker"] = self.speaker
        if self.when:
            out["when"] = self.when
        return out


@dataclass(frozen=True)
class TurnWeights:
    """How a whole-session turn ranking mixes its signals (``memory.sessions.recall``).

    Chosen on LoCoMo conversations 47-49 (bench/memory_bench.py; 50 held out), evidence
    recall@10 0.72 (similarity + BM25) → 0.85: the in-context vector +0.03, BM25 over the
    turn in context +0.03, neighbour and sitting +0.03 each, speaker named +0.03, dates +0.01.
    A second coordinate search on 47-49 (2026-12-03; context 0.5 → 0.8, speaker 0.15 → 0.2,
    date 0.2 → 0.3) took 47-49 from 0.847 to 0.865 and held-out 50 from 0.808 to 0.827.
    """

    context: float = 0.8  # share of the in-context vector's similarity (the rest: turn alone)
    lexical: float = 0.5  # BM25 relative to the lookup's best
    speaker: float = 0.2  # the question names the turn's speaker
    date: float = 0.3  # the question names a date the turn was said on (or refers to)
    date_pad_days: float = 7.0  # a turn said this long after a named date still matches it
    neighbour: float = 0.3  # share of the better neighbour's score
    sitting: float = 0.5  # share of the sitting's mean top-3 score
    spread: float = 0.05  # taken off a neighbour of a turn already ranked


@dataclass
class MemoryConfig:
    """Knobs of session memory (filled from the overlay settings)."""

    embed_assistant: bool = False
    fact_bonus: float = 0.15  # facts outrank a turn of equal similarity
    # a fact whose key the question names ("where do I live?"); above lexical_weight, so
    # the current fact outranks the superseded statement the question's words match
    cue_bonus: float = 0.6
    recency_weight: float = 0.0  # bonus of the newest turn, fading (LoCoMo dev: >0 hurt)
    recency_halflife: float = 200.0  # turns
    lexical_weight: float = 0.5  # bonus of the lookup's best BM25 match (memory.sessions.recall)
    candidates: int = 4  # dense and lexical candidates per list: candidates × k
    redis_vectors_max: int = 256  # a session's vectors move from Redis to Chroma past this
    ef_search: int = 200
    sitting_gap: float = 4 * 3600.0  # seconds of quiet that end a sitting
    index_max_turns: int = 20_000  # larger sessions: searched through the stores' top lists
    weights: TurnWeights = field(default_factory=TurnWeights)


def turn_input(t: dict[str, Any]) -> tuple[str, str, float, str]:
    """(role, text, ts, speaker) of one incoming turn ``{role, content | text, ts?, speaker?}``,
    validated; a turn without ``ts`` gets the server's clock."""
    role = str(t.get("role", "user"))
    text = t.get("content", t.get("text"))
    if role not in ROLES:
        raise InvalidInput(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a turn needs non-empty text ('content')")
    ts = t.get("ts")
    try:
        stamp = float(ts) if ts is not None else time.time()
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"invalid turn timestamp {ts!r}") from exc
    speaker = t.get("speaker") or ""
    if not isinstance(speaker, str) or len(speaker) > 100:
        raise InvalidInput("a turn's speaker is a name of at most 100 characters")
    return role, text, stamp, speaker.strip()
