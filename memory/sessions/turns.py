"""A conversation turn, its validation, and session memory's knobs."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
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
    """One logged turn."""

    id: int
    role: str
    text: str
    ts: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "text": self.text, "ts": self.ts}


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


def turn_input(t: dict[str, Any]) -> tuple[str, str, float]:
    """(role, text, ts) of one incoming turn ``{role, content | text, ts?}``, validated."""
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
    return role, text, stamp
