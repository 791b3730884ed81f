"""The outcome of one chat turn (``Answer``) and its one record (``Answer.to_dict``): the CLI's
``--json`` and, field for field, the API's ``/v1/chat`` body and ``overlay`` object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from overlay.choosing.fusion import Choice, Scored

# Why a turn said "I don't know" (``Answer.abstained_by``, the API's ``abstained_by``, the
# ``overlay_chat_abstentions_total`` metric's label): a stable code and what it means.
ABSTENTIONS = {
    "no_passages": "retrieval found nothing in the collection to answer from",
    "gate": "the answer gate judged that no passage found holds the answer",
    "threshold": "no passage found scored above the answer threshold",
    "judged": "every passage read was judged not to answer the question",
    "wrong_kind": "the answer found was not the kind of thing asked for",
    "no_text": "the passages chosen hold no sentence to read",
}


@dataclass(kw_only=True)
class Answer:
    """The outcome of one ask turn; ``to_dict`` is its one record (the CLI's ``--json``, the
    API's ``/v1/chat`` body and ``overlay`` object are that record, or a part of it)."""

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
    kind: str = "sentence"  # "span" | "sentence" | "generated" | "fallback" | "abstained"
    prompt_tokens: int = 0  # tokens the model read, all passes (scoring and answering)
    completion_tokens: int = 0  # tokens the model generated (0: nothing generated)
    finish_reason: str = "stop"  # "stop" | "length"
    retrieval_query: str = ""  # what retrieval and choosing used (a follow-up borrows its topic)
    degraded: bool = False  # a store was down: candidates came from Redis (sparse) only
    session: str | None = None
    abstained_by: str | None = None  # why it abstained (``ABSTENTIONS``); None: answered
    quote: str = ""  # the first citation's words the answer rests on, as it writes them

    def to_dict(self) -> dict[str, Any]:
        """The turn's record, JSON-ready."""
        p, c = self.prompt_tokens, self.completion_tokens
        return {
            "answer": self.answer,
            "abstained": self.abstained,
            "answer_kind": self.kind,
            "abstained_by": self.abstained_by,
            "citations": [
                _citation(c) | {"quote": (self.quote or None) if i == 0 else None}
                for i, c in enumerate(self.citations)
            ],
            "adapter": self.adapter,
            "mode": self.mode,
            "collection": self.collection,
            "session_id": self.session,
            "turn_id": self.turn_id,
            "retrieval_query": self.retrieval_query,
            "degraded": self.degraded,
            "finish_reason": self.finish_reason,
            "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


def _citation(c: Scored) -> dict[str, Any]:
    out = {"id": c.hit.id, "source": c.hit.source, "text": c.hit.text, "score": round(c.score, 4)}
    if c.hit.metadata.get("cite_kind") == "memory":  # answered from session memory
        out |= {"kind": "memory", "speaker": c.hit.metadata.get("speaker"),
                "ts": c.hit.metadata.get("ts")}  # fmt: skip
    return out
