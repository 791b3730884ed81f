"""Assemble one chat turn's prompt within a token budget, counted with the model's tokenizer.

Nothing about the model's context length is assumed: the caller passes the
budget and a ``count(text) -> tokens`` function (the model's tokenizer). Parts
are admitted in priority order:

1. the system prompt and the question (always; ``TooLarge`` if they alone overflow);
2. the session's facts;
3. the most relevant earlier turns (memories not already among the recent turns);
4. as many recent turns as fit, newest first — but leaving up to half of what
   remains for the documents, so a long conversation never crowds them out;
5. the chosen document candidates, in order; the last one is cut to fit.

Each admitted part costs its text's tokens plus ``overhead`` (separators, chat
template tokens), so the rendered prompt stays within the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from memory.errors import TooLarge
from memory.types import Hit

Count = Callable[[str], int]


@dataclass
class Context:
    """The parts of a prompt that fit, and what they cost."""

    system: str
    question: str
    facts: list[str] = field(default_factory=list)
    memories: list[Hit] = field(default_factory=list)
    recent: list[dict[str, str]] = field(default_factory=list)  # {"role", "content"}, oldest first
    documents: list[Hit] = field(default_factory=list)
    tokens: int = 0
    budget: int = 0
    used: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def system_text(self, with_documents: bool = True) -> str:
        """The system prompt with facts, memories and (optionally) numbered documents."""
        parts = [self.system.strip()] if self.system.strip() else []
        if self.facts:
            parts.append("Known facts about the user:\n" + "\n".join(f"- {f}" for f in self.facts))
        if self.memories:
            lines = [f"- {memory_line(h)}" for h in self.memories]
            parts.append("Relevant earlier conversation:\n" + "\n".join(lines))
        if with_documents and self.documents:
            docs = [f"[{i}] {h.text}" for i, h in enumerate(self.documents, 1)]
            parts.append("Passages:\n" + "\n".join(docs))
        return "\n\n".join(parts)

    def messages(self, with_documents: bool = True) -> list[dict[str, str]]:
        """Chat messages: system, the recent turns, then the question."""
        return [
            {"role": "system", "content": self.system_text(with_documents)},
            *self.recent,
            {"role": "user", "content": self.question},
        ]


def memory_line(hit: Hit) -> str:
    role = hit.metadata.get("role") or "user"
    return f"({role}, turn {hit.metadata.get('turn', '?')}) {hit.text}"


class _Budget:
    def __init__(self, count: Count, total: int, overhead: int) -> None:
        self.count, self.left, self.overhead = count, total, overhead
        self.used: dict[str, int] = {}
        self.dropped: dict[str, int] = {}

    def cost(self, text: str) -> int:
        return self.count(text) + self.overhead

    def take(self, kind: str, text: str, limit: int | None = None) -> bool:
        cost = self.cost(text)
        if cost > (self.left if limit is None else min(limit, self.left)):
            self.dropped[kind] = self.dropped.get(kind, 0) + 1
            return False
        self.left -= cost
        self.used[kind] = self.used.get(kind, 0) + cost
        return True


def build_context(
    count: Count,
    budget: int,
    *,
    system: str,
    question: str,
    facts: Sequence[str] = (),
    memories: Sequence[Hit] = (),
    recent: Sequence[dict[str, Any]] = (),
    documents: Sequence[Hit] = (),
    overhead: int = 4,
) -> Context:
    """Fit the parts of a turn's prompt into ``budget`` tokens (see the module docstring)."""
    b = _Budget(count, budget, overhead)
    if not (b.take("system", system) and b.take("question", question)):
        raise TooLarge(
            f"the system prompt and the question need more than the {budget}-token context budget"
        )
    ctx = Context(system=system, question=question, budget=budget)
    ctx.facts = [f for f in facts if b.take("facts", f)]
    recent_msgs = [_message(t) for t in recent]
    recent_texts = {m["content"] for m in recent_msgs}
    ctx.memories = [
        h for h in memories if h.text not in recent_texts and b.take("memories", memory_line(h))
    ]
    doc_need = sum(b.cost(h.text) for h in documents)
    reserve = min(doc_need, b.left // 2)
    kept: list[dict[str, str]] = []
    for msg in reversed(recent_msgs):
        if not b.take("recent", msg["content"], limit=b.left - reserve):
            b.dropped["recent"] = b.dropped.get("recent", 0) + len(recent_msgs) - len(kept) - 1
            break
        kept.append(msg)
    ctx.recent = kept[::-1]
    ctx.documents = _fit_documents(b, documents)
    ctx.used, ctx.dropped = b.used, b.dropped
    ctx.tokens = budget - b.left
    return ctx


def _message(turn: dict[str, Any]) -> dict[str, str]:
    text = turn.get("content", turn.get("text", ""))
    return {"role": str(turn.get("role", "user")), "content": str(text)}


def _fit_documents(b: _Budget, documents: Sequence[Hit]) -> list[Hit]:
    out: list[Hit] = []
    for h in documents:
        if b.take("documents", h.text):
            out.append(h)
            continue
        cut = _truncate(b, h.text, b.left - b.overhead)
        if cut and b.take("documents", cut):
            out.append(Hit(h.id, cut, h.score, h.source, h.kind, {**h.metadata, "truncated": True}))
        break
    return out


def _truncate(b: _Budget, text: str, tokens: int) -> str:
    """The longest prefix of ``text`` (cut at a word) that ``count`` puts within ``tokens``."""
    if tokens < 8:
        return ""
    lo, hi = 0, len(text)
    while lo < hi:  # binary search on characters: O(log n) tokenizer calls
        mid = (lo + hi + 1) // 2
        if b.count(text[:mid]) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    if lo < len(text) and " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.strip()
