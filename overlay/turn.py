"""One chat turn: gather candidates, let the frozen model choose, answer with citations.

message ─► remembering.step: log it, memories and facts as candidates, the session's prompt part
        ─► choosing.candidates: hybrid retrieval ─► dedupe, top M (extras first)
        ─► choosing.chooser: model scores (batched) ─► fuse + threshold ─► ``Choice``
                                           none clears it ─► abstain
        ─► answering: read (default: sentences of the chosen passages, fused; the reader
           adapter's span of the best one, checked), extractive (choose) or grounded
           (generate) ─► ``Draft``, its text handed to ``on_text`` once checked
        ─► answer logged to the session; ask logged for feedback ─► ``Answer``

``retrieve`` is the one entry for ranked candidates by method; ``chosen`` is the
hybrid candidates re-ranked by the model (``choosing.chooser.rerank``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from memory.types import Hit
from overlay.answering.answers import (
    ABSTAIN_TEXT,
    Draft,
    PromptContext,
    extractive,
    grounded,
)
from overlay.answering.read_mode import read_mode
from overlay.answering.reading import lead_citation
from overlay.answering.spans import quote_in
from overlay.answering.widening import checked
from overlay.choosing import candidates
from overlay.choosing.chooser import choose_among, reads_in_pass, rerank
from overlay.choosing.feedback import record_turn
from overlay.choosing.followup import retrieval_query
from overlay.choosing.fusion import Choice, Scored, dedupe
from overlay.choosing.views import query_view
from overlay.model.decode import Decoding, OnText
from overlay.record import Answer
from overlay.remembering.step import answer_from_memory, remember_answer, session_turn
from overlay.request import METHODS, MODES, TurnRequest, resolve, resolve_retrieve
from overlay.services import Services

__all__ = ["MODES", "METHODS", "Answer", "Conversation", "TurnRequest", "ask", "retrieve"]


@dataclass
class Conversation:
    """What a client sends around its question: its own instructions and earlier turns."""

    instructions: str = ""  # the client's system message: added to ours, never replacing it
    turns: list[tuple[str, str]] = field(default_factory=list)  # (role, content), oldest first


def retrieve(
    services: Services, query: str | TurnRequest, collection: str | None = None,
    k: int | None = None, method: str = "hybrid",
) -> list[Hit]:  # fmt: skip
    """The ``k`` best candidates for ``query`` from ``collection``, best first (a ``str`` query
    is resolved first: ``overlay.request.resolve_retrieve``)."""
    req = query if isinstance(query, TurnRequest) else resolve_retrieve(
        services, query, k=k, collection=collection, method=method
    )  # fmt: skip
    if req.method != "chosen":
        return candidates.retrieve(services, req.text, req.collection, req.k, req.method)
    m = max(req.k, services.settings.choose.top_m)
    hits = dedupe(candidates.retrieve(services, req.text, req.collection, k=m, method="hybrid"))
    return rerank(services, req.text, hits, req.k)


def gather_extra(
    services: Services, question: str, session: str | None, extra: Sequence[Hit] | None
) -> tuple[list[Hit], PromptContext]:
    """Session memory's part: candidates beyond the documents, and prompt context.

    Returns extra candidates (memory hits, facts as ``Hit(kind="fact"|"turn")``)
    that compete with the documents, and the session's facts and recent turns for
    the prompt. With a session, the message is logged first (no model call).
    """
    if not session:
        return list(extra or []), PromptContext()
    turn = session_turn(services, question, session)
    context = PromptContext(turn.facts, turn.recent, memories=turn.memories)
    return [*turn.candidates, *(extra or [])], context


def merge_turns(
    client: Sequence[tuple[str, str]], session: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The session's recent turns the client did not send, then the client's turns (a client
    that sends its whole history and a session id would otherwise see every turn twice)."""
    sent = {(role, " ".join(text.split())) for role, text in client}
    return [*(t for t in session if (t[0], " ".join(t[1].split())) not in sent), *client]


def _gather(
    services: Services, question: str, collection: str, k: int, extra: list[Hit]
) -> list[Hit]:
    m = services.settings.choose.top_m
    hits = candidates.retrieve(services, question, collection, k=max(k, m), method="hybrid")
    return dedupe([*extra, *hits[:m]])  # extras (memories) passed a relevance floor


def ask(
    services: Services,
    question: str | TurnRequest,
    *,
    collection: str | None = None,
    mode: str | None = None,
    adapter: str | None = None,
    session: str | None = None,
    k: int | None = None,
    extra_candidates: Sequence[Hit] | None = None,
    conversation: Conversation | None = None,
    decoding: Decoding | None = None,
    on_text: OnText | None = None,
) -> Answer:
    """Answer ``question`` from ``collection`` with citations, or abstain.

    A ``str`` question is resolved first (``overlay.request.resolve``: text, mode, ``k``,
    collection and adapter checked before anything is logged); a ``TurnRequest`` already was.
    ``conversation``: the client's instructions and earlier turns (they join the session's
    recent turns in the prompt); ``decoding``: generation knobs (default: greedy,
    ``settings.answer.max_new_tokens``); ``on_text``: called with each piece of the answer's text
    as it becomes final (joined, the pieces are ``Answer.answer``)."""
    req = question if isinstance(question, TurnRequest) else resolve(
        services, question, mode=mode, k=k, collection=collection, adapter=adapter,
        session=session,
    )  # fmt: skip
    return _turn(services, req, extra_candidates, conversation, decoding, on_text)


def _turn(
    services: Services,
    req: TurnRequest,
    extra_candidates: Sequence[Hit] | None,
    conversation: Conversation | None,
    decoding: Decoding | None,
    on_text: OnText | None,
) -> Answer:
    s, question, session, adapter = services.settings, req.text, req.session, req.adapter
    t0 = time.perf_counter()
    extra, context = gather_extra(services, question, session, extra_candidates)
    if conversation is not None:
        context.turns = merge_turns(conversation.turns, context.turns)
        context.instructions = conversation.instructions
    query = retrieval_query(question, [c for r, c in context.turns if r == "user"])
    hits = _gather(services, query, req.collection, req.k, extra)
    t1 = time.perf_counter()
    span_read = reads_in_pass(services, req.mode)
    remembered = answer_from_memory(services, question, session, extra, on_text)
    # the answer gate, where it will decide, reads the collection's size
    gate = span_read and not remembered and s.answer.gate and bool(hits)
    size = candidates.collection_size(services, req.collection) if gate else None
    choice = remembered.choice if remembered else choose_among(
        services, query, hits, adapter, read=span_read, size=size
    )  # fmt: skip
    t2 = time.perf_counter()
    decoding = decoding or Decoding(max_new_tokens=s.answer.max_new_tokens)
    draft = remembered.draft if remembered else _answer(
        services, question, choice, req.mode, adapter, context, decoding, on_text
    )  # fmt: skip
    t3 = time.perf_counter()
    if session:
        remember_answer(services, session, draft.text)
    cited = cited_passages(choice, draft)
    turn = record_turn(
        services, question, [h.id for h in hits], [c.hit.id for c in cited], req.collection
    )
    timings = {"retrieve": t1 - t0, "choose": t2 - t1, "generate": t3 - t2, "total": t3 - t0}
    return Answer(
        question=question,
        answer=draft.text,
        abstained=choice.abstained,
        citations=cited,
        adapter=adapter,
        mode=req.mode,
        collection=req.collection,
        session=session,
        timings_ms={k: v * 1000 for k, v in timings.items()},
        turn_id=turn.turn_id,
        choice=choice,
        kind="abstained" if choice.abstained else draft.kind,
        abstained_by=(draft.why or _chose_nothing(choice)) if choice.abstained else None,
        quote=_quote(draft, cited),
        prompt_tokens=draft.prompt_tokens + int(choice.notes.get("prompt_tokens", 0)),
        completion_tokens=draft.completion_tokens,
        finish_reason=draft.finish_reason,
        retrieval_query=query,
        degraded=any(h.metadata.get("degraded") for h in hits),
    )


def _quote(draft: Draft, cited: Sequence[Scored]) -> str:
    """The sentence an answer rests on, as its one citation writes it ("" where the answer
    is no one passage's sentence: generated, abstained, or citing more than one)."""
    if not draft.sentence or draft.cited != [1] or not cited:
        return ""
    return quote_in(draft.sentence, cited[0].hit.text)


def cited_passages(choice: Choice, draft: Draft) -> list[Scored]:
    """The citations returned, so that every marker ``[n]`` of the text is the n-th of them:
    the cited passages themselves when the text numbers them 1..k in order, else the passages
    as the model was shown them, up to the highest marker."""
    if not draft.cited:
        return []
    if draft.cited == list(range(1, len(draft.cited) + 1)):
        return [choice.chosen[n - 1] for n in draft.cited]
    return choice.chosen[: max(draft.cited)]


def _answer(
    services: Services,
    question: str,
    choice: Choice,
    mode: str,
    adapter: str | None,
    context: PromptContext,
    decoding: Decoding,
    on_text: OnText | None = None,
) -> Draft:
    """The answer's text for ``mode``; ``on_text`` gets it only once it has passed its check
    (a span or a sentence whole; generated prose sentence by sentence), never retracted."""
    if choice.abstained or mode != "generate":
        if choice.abstained:
            draft = Draft(ABSTAIN_TEXT, [], why=_chose_nothing(choice))
        elif mode == "read":
            read = checked(question, read_mode(services, question, choice))
            if read is None or read.kind == "abstained":  # the wrong kind of answer, or no
                # sentence to read at all: no answer (the turn abstains)
                choice.chosen.clear()
                draft = Draft(ABSTAIN_TEXT, [], why=read.why if read else "wrong_kind")
            else:
                draft = lead_citation(choice, read)
        else:
            draft = extractive(question, [c.hit.text for c in choice.chosen])
        if on_text is not None:
            on_text(draft.text)
        return draft
    texts = [c.hit.text for c in choice.chosen]
    s = services.settings
    count = services.count_tokens
    views = [query_view(question, t, 2 * s.choose.view_tokens, count) for t in texts]
    with services.run_model(adapter) as model:
        return grounded(
            model, services.model.tokenizer, question, views, context=context,
            budget=s.answer.context_budget, params=decoding, on_text=on_text, count=count,
        )  # fmt: skip


def _chose_nothing(choice: Choice) -> str:
    """Why choosing left nothing to answer from (``ABSTENTIONS``)."""
    if not choice.ranked:
        return "no_passages"
    return "gate" if "gate" in choice.notes else "threshold"
