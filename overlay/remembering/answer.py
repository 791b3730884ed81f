"""Answers from session memory, before the documents are asked: a statement is acknowledged
with what was kept, a question whose answer the session holds is answered from the remembered
fact or turn, cited as memory with its speaker and date. No model call.

- a statement (no question mark, no question word first): "Noted: your name is Alex; you work
  in the Oslo office." — the facts its turn stated (kind ``noted``);
- a question a remembered fact answers (the question names the fact's key): the fact's value;
- "when did …" answered by a remembered turn: the date it names ("yesterday" resolved against
  the turn's date, ``Turn.when``), else the date it was said (kind ``memory``);
- another question a remembered turn answers well (``memory_evidence`` ≥ ``MIN_EVIDENCE``):
  the turn's own words (its lookup score ≥ ``MIN_SCORE``).
Otherwise None: the document path answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from memory.sessions.extract import Fact
from memory.sessions.when import day_label
from memory.types import Hit
from overlay.answering.answers import Draft
from overlay.choosing.fusion import Choice, Scored

_QUESTION = re.compile(
    r"^\s*(?:who|whom|whose|what|when|where|which|why|how|is|are|am|was|were|do|does|did|"
    r"can|could|will|would|should|shall|has|have|had|may|might)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(r"^\s*(?:when|what (?:day|date|time|year|month))\b", re.IGNORECASE)
# a turn's lookup score (``memory.sessions.recall``) that answers on its own; on LoCoMo 47-49
# (bench/memory_bench.py) 0.9: F1 1-4 0.147, adversarial abstained 0.17; 1.0: 0.123, 0.41;
# 1.1: 0.059, 0.71 — the turn's whole text is a long answer to a short question
MIN_SCORE = 1.0


@dataclass
class Remembered:
    """A turn answered from memory: the draft and the choice its citations come from."""

    draft: Draft
    choice: Choice


def is_statement(text: str) -> bool:
    """True for a message that tells rather than asks."""
    return "?" not in text and not _QUESTION.match(text)


def _you(text: str) -> str:
    """A fact's sentence said back: "my name is Alex" → "your name is Alex"."""
    swaps = {"my": "your", "i": "you", "i'm": "you're", "am": "are", "me": "you", "mine": "yours"}
    return " ".join(swaps.get(w.lower(), w) for w in text.split())


def _cited(hit: Hit, text: str, kind: str) -> Remembered:
    hit.metadata["cite_kind"] = "memory"
    scored = Scored(hit, 0, 1.0, 0.0, 1.0, hit.score)
    return Remembered(Draft(text, [1], 1, kind), Choice([scored], [scored], 0.0))


def acknowledge(text: str, facts: Sequence[Fact], hit: Hit) -> Remembered:
    """A "Noted: …" reply with the facts the statement gave (or just "Noted.")."""
    kept = "; ".join(_you(f.text).rstrip(".") for f in facts)
    return _cited(hit, f"Noted: {kept}." if kept else "Noted.", "noted")


def _when(hit: Hit) -> str:
    named = hit.metadata.get("when") or []
    if named:
        return str(named[0]["label"])
    return day_label(datetime.fromtimestamp(float(hit.metadata["ts"]), UTC).date())


def from_memory(question: str, hits: Sequence[Hit]) -> Remembered | None:
    """The answer the remembered ``hits`` (best first) give ``question``, or None."""
    for h in hits:
        if h.kind == "fact" and h.metadata.get("cue") and h.metadata.get("scope") != "taught":
            return _cited(h, str(h.metadata.get("value") or h.text), "memory")
    turns = [h for h in hits if h.kind == "turn" and h.metadata.get("ts") is not None]
    if not turns or turns[0].score < MIN_SCORE:
        return None
    best = turns[0]
    return _cited(best, _when(best) if _WHEN.match(question) else best.text, "memory")


def memory_answer(
    question: str, hits: Sequence[Hit], stated: Sequence[Fact], turn: Hit | None
) -> Remembered | None:
    """The chat turn's answer from memory (see the module docstring), or None.

    ``hits``: the session's memory candidates, best first; ``stated``: facts this message
    stated; ``turn``: this message as a memory hit (what an acknowledgment cites)."""
    if is_statement(question):
        return acknowledge(question, stated, turn) if turn is not None and stated else None
    return from_memory(question, hits)
