"""Answers from session memory: a statement acknowledged with what was kept, a question the
memory answers answered from the remembered fact or turn, cited as memory (no model call)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from memory.sessions.extract import Fact
from memory.types import Hit
from overlay import turn
from overlay.remembering.answer import from_memory, is_statement, memory_answer
from overlay.services import Services

TS = datetime(2023, 5, 8, 12, tzinfo=UTC).timestamp()


def _turn(text: str, score: float, when: list | None = None) -> Hit:
    meta = {"turn": 3, "ts": TS, "speaker": "Evan", "when": when}
    return Hit("turn:s:3", text, score, "session:s", "turn", meta)


def test_statements_and_questions() -> None:
    assert is_statement("My name is Alex and I work in the Oslo office.")
    assert not is_statement("What is my name") and not is_statement("my name?")


def test_a_statement_is_acknowledged_with_its_facts() -> None:
    facts = [Fact("name", "Alex", "my name is Alex"), Fact("office", "Oslo", "I work in Oslo")]
    got = memory_answer("My name is Alex; I work in Oslo.", [], facts, _turn("x", 1.0))
    assert got is not None and got.draft.kind == "noted"
    assert got.draft.text == "Noted: your name is Alex; you work in Oslo."


def test_when_questions_answer_with_the_date() -> None:
    said = _turn("I went to Banff yesterday.", 1.2, [{"label": "7 May 2023"}])
    got = from_memory("When did Evan go to Banff?", [said])
    assert got is not None and got.draft.text == "7 May 2023" and got.draft.kind == "memory"
    plain = from_memory("When did Evan say it?", [_turn("I like Banff.", 1.2)])
    assert plain is not None and plain.draft.text == "8 May 2023"
    assert from_memory("What did Evan like?", [_turn("I like Banff.", 0.1)]) is None


def test_the_chat_turn_acknowledges_and_answers_from_memory(services: Services) -> None:
    s = "a" + uuid.uuid4().hex[:8]
    ack = turn.ask(services, "My name is Alex and I work in the Oslo office.", session=s)
    assert ack.kind == "noted"
    assert ack.answer == "Noted: your name is Alex; you work in the Oslo office."
    got = turn.ask(services, "What is my name?", session=s).to_dict()
    assert got["answer"] == "Alex" and got["answer_kind"] == "memory"
    assert got["citations"][0]["kind"] == "memory" and got["citations"][0]["ts"] > 0
