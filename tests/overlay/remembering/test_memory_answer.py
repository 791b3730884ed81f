"""Answers from session memory: a statement acknowledged with what was kept, a question the
memory answers answered from the remembered fact or turn, cited as memory; the reader's span
found in the turn that holds it, and a question about one speaker never answered from the
other's words."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from memory.sessions.extract import Fact
from memory.types import Hit
from overlay import remembering, turn
from overlay.remembering.answer import from_memory, is_statement, memory_answer, passage
from overlay.remembering.step import reranked
from overlay.services import Services

TS = datetime(2023, 5, 8, 12, tzinfo=UTC).timestamp()


def _turn(text: str, score: float, when: list | None = None, speaker: str = "Evan") -> Hit:
    meta = {"turn": 3, "ts": TS, "speaker": speaker, "when": when}
    return Hit("turn:s:3", text, score, "session:s", "turn", meta)


def _reader(span: str) -> tuple[list[str], object]:
    seen: list[str] = []

    def read(question: str, text: str) -> str:
        seen.append(text)
        return span

    return seen, read


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


def test_the_readers_span_is_answered_in_the_words_of_the_turn_that_holds_it() -> None:
    turns = [_turn("We had a great time! The puppy is lovely.", 1.1, speaker="Sam"),
             _turn("I adopted a puppy. His name's Ned, and he is awesome.", 1.0)]  # fmt: skip
    seen, read = _reader("his names ned")
    got = from_memory("What is the name of Evan's puppy?", turns, read)
    assert seen == [passage(turns)] and seen[0].startswith("Sam: We had a great time! The")
    assert got is not None and got.draft.text == "His name's Ned"
    assert got.choice.chosen[0].hit is turns[1]  # the one turn cited is the one holding it
    _, lost = _reader("a kitten")  # in no turn: the best turn's sentence the question names
    missed = from_memory("What is the puppy called?", turns, lost)
    assert missed is not None and missed.draft.text == "The puppy is lovely."
    # … unless the question names a speaker who did not say it
    assert from_memory("What is the name of Evan's puppy?", turns, lost) is None
    _, loose = _reader("adopted puppies")  # copied loosely: the turn's own words answer
    near = from_memory("What did Evan adopt?", turns, loose)
    assert near is not None and near.draft.text == "adopted a puppy"
    assert near.choice.chosen[0].hit is turns[1]


def test_a_question_about_one_speaker_is_not_answered_from_the_others_words() -> None:
    turns = [_turn("I adopted a puppy last week.", 1.2, speaker="James"),
             _turn("Congrats on the pup!", 1.0, speaker="John")]  # fmt: skip
    _, read = _reader("a puppy")
    assert from_memory("What did John adopt?", turns, read) is None
    got = from_memory("What did James adopt?", turns, read)
    assert got is not None and got.draft.text == "puppy"  # find_span drops articles


def _reads(*spans: str) -> tuple[list[str], object]:
    seen: list[str] = []

    def read(question: str, text: str) -> str:
        seen.append(text)
        return spans[len(seen) - 1]

    return seen, read


def test_a_list_question_reads_the_other_turns_for_a_second_item() -> None:
    turns = [_turn("I was in Italy last spring, loved it.", 1.3, speaker="James"),
             _turn("Nice! I went to Spain.", 1.2, speaker="John"),
             _turn("Then Mexico in June, the food was great.", 1.1, speaker="James")]  # fmt: skip
    seen, read = _reads("Italy", "Mexico")
    got = from_memory("Which countries has James visited?", turns, read)
    assert got is not None and got.draft.text == "Italy, Mexico"
    assert [c.hit for c in got.choice.chosen] == [turns[0], turns[2]]  # both turns cited
    assert got.draft.cited == [1, 2]
    assert seen[1] == passage([turns[2]])  # the second read: James's other turn only
    for second in ("Italy", "James"):  # nothing new, or only a speaker: the first item alone
        _, again = _reads("Italy", second)
        one = from_memory("Which countries has James visited?", turns, again)
        assert one is not None and one.draft.text == "Italy" and one.draft.cited == [1]
    solo, read = _reads("Italy", "Mexico")  # not a list question: one read
    single = from_memory("Which country did James love?", turns, read)
    assert single is not None and single.draft.text == "Italy" and len(solo) == 1


def test_an_answer_of_the_wrong_kind_is_no_answer() -> None:
    turns = [_turn("Max and Daisy are the best dogs.", 1.2, speaker="James")]
    _, read = _reader("Max and Daisy")
    assert from_memory("How many dogs does James have?", turns, read) is None
    _, count = _reader("two dogs")
    turns = [_turn("I have two dogs, Max and Daisy.", 1.2, speaker="James")]
    got = from_memory("How many dogs does James have?", turns, count)
    assert got is not None and got.draft.text == "two dogs"


def test_a_when_answer_takes_the_date_the_span_names() -> None:
    when = [{"text": "last week", "label": "the week before 8 May 2023"},
            {"text": "yesterday", "label": "7 May 2023"}]  # fmt: skip
    said = _turn("I booked it last week and flew yesterday.", 1.2, when)
    _, read = _reader("yesterday")
    got = from_memory("When did Evan fly?", [said], read)
    assert got is not None and got.draft.text == "7 May 2023"
    assert from_memory("When did Evan fly?", [_turn("I flew.", 0.79)], read) is None  # floor
    _, year = _reader("2021")
    got = from_memory("When did Evan visit Italy?", [_turn("I was in Italy in 2021.", 1.2)], year)
    assert got is not None and got.draft.text == "2021"


def test_the_chat_turn_acknowledges_and_answers_from_memory(services: Services) -> None:
    s = "a" + uuid.uuid4().hex[:8]
    ack = turn.ask(services, "My name is Alex and I work in the Oslo office.", session=s)
    assert ack.kind == "noted"
    assert ack.answer == "Noted: your name is Alex; you work in the Oslo office."
    got = turn.ask(services, "What is my name?", session=s).to_dict()
    assert got["answer"] == "Alex" and got["answer_kind"] == "memory"
    assert got["citations"][0]["kind"] == "memory" and got["citations"][0]["ts"] > 0


def test_the_turns_read_are_reordered_only_once_the_best_has_passed_the_floor() -> None:
    low = [_turn("I adopted a puppy.", 0.5)]
    calls: list[int] = []

    def order(turns: list[Hit]) -> list[Hit]:
        calls.append(len(turns))
        return [_turn("His name's Ned.", 0.7), *turns]

    seen, read = _reader("Ned")
    assert from_memory("What is the puppy called?", low, read, order=order) is None
    assert calls == [] and seen == []  # under the floor: no model call at all
    high = [_turn("I adopted a puppy.", 1.2)]
    got = from_memory("What is the puppy called?", high, read, order=order)
    assert calls == [1] and seen[0].startswith("Evan: His name's Ned.")
    assert got is not None and got.draft.text == "Ned"


def test_the_base_model_reranks_a_sessions_turns(services: Services) -> None:
    s = "r" + uuid.uuid4().hex[:8]
    said = ["I went hiking in the hills on Saturday.", "Do you like dogs?",
            "I adopted a puppy last week. His name is Ned.", "Work was busy this week.",
            "My sister visited us in May."]  # fmt: skip
    remembering.append_turns(services, s, [
        {"role": "user", "content": t, "speaker": "Evan" if i % 2 == 0 else "Sam", "ts": TS + i}
        for i, t in enumerate(said)
    ])  # fmt: skip
    order = reranked(services, s, "What is the name of Evan's puppy?")
    assert order is not None
    got = order([])
    assert [h.text for h in got][0] == said[2]
    assert "Do you like dogs?" not in [h.text for h in got]  # questions hold no answer
    assert {h.kind for h in got} == {"turn"} and len(got) == 4
    off = services.settings.model_copy(deep=True)
    off.memory.rerank_turns = 0
    quiet = type(services)(off, services.redis, services.chroma, embedder=services.embedder,
                           tenant=services.tenant)  # fmt: skip
    assert reranked(quiet, s, "What is the name of Evan's puppy?") is None
