"""The chat turn's memory step: log the message, gather memories and facts as candidates,
fit the session's part of the prompt, and log the answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memory.types import Hit
from overlay.answering.reading import READER_DECODING, reader_prompt
from overlay.choosing.scoring import score_views
from overlay.knobs import MemorySettings
from overlay.model.decode import decode
from overlay.remembering.answer import Order, Reader, Remembered, memory_answer, spoken
from overlay.remembering.library import log_turn
from overlay.services import Services

# --- for the chat turn -------------------------------------------------------------------

# A stored fact that matches a question well is evidence in itself: the small model's
# query likelihood rates short passages like "my name is Bob" low, so memories carry
# an evidence floor from their lookup score (``settings.memory.evidence_from`` … ``_full``).


def memory_evidence(hit: Hit, m: MemorySettings) -> float:
    """Evidence in [0, 1] that a memory or fact hit answers the question it was found for."""
    if hit.kind == "fact" and hit.metadata.get("scope") == "taught":
        score = hit.score  # cosine similarity of the question to "subject relation"
    elif hit.kind == "fact":
        score = hit.score
    else:
        # a turn is weaker evidence than a stated fact; its ranking bonuses are no evidence
        score = m.turn_evidence * float(hit.metadata.get("similarity", hit.score))
    return max(0.0, min(1.0, (score - m.evidence_from) / (m.evidence_full - m.evidence_from)))


def memory_candidates(
    services: Services,
    question: str,
    session: str | None = None,
    k: int | None = None,
    exclude: Sequence[int] = (),
) -> list[Hit]:
    """Memories and taught facts worth offering the chooser for ``question``, best first.

    Earlier questions are left out (they hold no answer); every hit carries
    ``metadata["memory_evidence"]``, the floor the chooser may use for it.
    """
    s = services.settings
    k = s.memory.k if k is None else k
    if k <= 0:
        return []
    hits: list[Hit] = []
    if session:
        found = services.session_memory.search(session, question, 2 * k, exclude=exclude)
        hits += [h for h in found if h.kind == "fact" or not h.text.rstrip().endswith("?")]
    hits += services.taught_facts.search(question, k)
    hits = [h for h in hits if h.score >= s.memory.min_score]
    for h in hits:
        h.metadata["memory_evidence"] = memory_evidence(h, s.memory)
    hits.sort(key=lambda h: h.score, reverse=True)
    return hits[:k]


@dataclass
class SessionTurn:
    """What session memory contributes to one chat turn."""

    turn_id: int
    candidates: list[Hit]  # memories and taught facts that compete with the documents
    facts: list[str]  # for the prompt, the most relevant first
    memories: list[Hit]  # relevant earlier turns, for the prompt
    recent: list[tuple[str, str]]  # (role, content), oldest first


def session_turn(services: Services, question: str, session: str) -> SessionTurn:
    """Log the user's message (facts extracted, no model call) and gather memories, the
    session's facts (read once) and recent turns. Fitting them into the prompt's budget is
    the one prompt builder's job (``answering.prompt.build_context``), done once per turn."""
    s = services.settings
    mem = services.session_memory
    n = s.memory.recent_turns
    recent = [t.to_dict() for t in mem.turns(session, -n, -1)] if n else []
    turn_id = log_turn(services, session, "user", question)
    hits = memory_candidates(services, question, session, exclude=[turn_id])
    facts = mem.facts(session)
    hit_keys = [h.metadata.get("key") for h in hits if h.kind == "fact"]
    facts.sort(key=lambda f: hit_keys.index(f.key) if f.key in hit_keys else len(hit_keys))
    memories = [h for h in hits if h.kind == "turn"]
    turns = [(str(t["role"]), str(t.get("content", t.get("text", "")))) for t in recent]
    return SessionTurn(turn_id, hits, [f.text for f in facts], memories, turns)


def remember_answer(services: Services, session: str, text: str) -> None:
    """Log the assistant's answer (embedded only if ``memory_embed_assistant``)."""
    if text.strip():
        services.session_memory.append(session, [{"role": "assistant", "content": text}])


def memory_reader(services: Services) -> Reader:
    """The memory reader adapter (``memory.reader_adapter``) as a memory answer's reader: one
    greedy read of a passage of remembered turns."""

    def read(question: str, passage: str) -> str:
        tokenizer = services.model.tokenizer
        with services.run_model(services.settings.memory.reader_adapter) as model:
            out = decode(model, tokenizer, reader_prompt(tokenizer, question, passage),
                         READER_DECODING)  # fmt: skip
        return out.text.strip()

    return read


def reranked(
    services: Services, session: str, question: str, exclude: Sequence[int] = ()
) -> Order | None:
    """The turns a memory answer reads, re-ranked by the base model: the lookup's best
    ``memory.rerank_turns`` turns (questions left out), each scored by the chooser's query
    likelihood of ``question`` after the turn as ``spoken``, ordered by lookup score +
    ``memory.rerank_weight`` × that log-prob margin. None when ``rerank_turns`` is 0."""
    m = services.settings.memory
    if m.rerank_turns <= 0:
        return None

    def order(turns: list[Hit]) -> list[Hit]:
        found = services.session_memory.search(session, question, m.rerank_turns + 2, exclude)
        pool = [h for h in found if h.kind == "turn" and h.metadata.get("ts") is not None
                and not h.text.rstrip().endswith("?")][: m.rerank_turns]  # fmt: skip
        if len(pool) < 2:
            return turns
        with services.run_model(None) as model:
            scored = score_views(model, services.model.tokenizer, question,
                                 [spoken(h) for h in pool],
                                 batch_size=services.settings.choose.batch_size)  # fmt: skip
        ranked = sorted(zip(pool, scored.margins, strict=True),
                        key=lambda p: -(p[0].score + m.rerank_weight * p[1]))  # fmt: skip
        return [h for h, _ in ranked]

    return order


def answer_from_memory(
    services: Services, question: str, session: str | None, hits: Sequence[Hit],
    on_text: Callable[[str], None] | None = None,
) -> Remembered | None:  # fmt: skip
    """The chat turn's answer from session memory (``overlay.remembering.answer``), or None;
    called after ``session_turn`` logged the message. ``on_text`` gets the answer's text."""
    if not session or not services.settings.memory.answers:
        return None
    mem = services.session_memory
    last = mem.turns(session, -1, -1)
    if not last:
        return None
    t = last[0]
    stated = [f for f in mem.facts(session) if f.turn == str(t.id) and f.session == session]
    meta = {"session": session, "turn": t.id, "role": t.role, "ts": t.ts,
            "speaker": t.speaker or None}  # fmt: skip
    own = Hit(f"turn:{session}:{t.id}", t.text, 1.0, f"session:{session}", "turn", meta)
    m = services.settings.memory
    remembered = memory_answer(
        question, [h for h in hits if h.source.startswith("session:")], stated, own,
        memory_reader(services), floor=m.answer_floor, read_turns=m.read_turns,
        order=reranked(services, session, question, exclude=[t.id]),
    )  # fmt: skip
    if remembered is not None and on_text is not None:
        on_text(remembered.draft.text)
    return remembered
