"""Acceptance: 20 facts over 300 turns, looked up (real MiniLM), after a restart, and
answered by the real default model."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from memory.embeddings import SentenceEmbedder
from overlay import remembering
from overlay.services import Services, build_services
from overlay.settings import Settings

# (statement, question, what the answer must contain)
FACTS = [
    ("Hi! My name is Marguerite.", "What is my name?", "Marguerite"),
    ("I live in Trondheim.", "Which city do I live in?", "Trondheim"),
    ("I prefer oat milk in my coffee.", "What do I prefer in my coffee?", "oat milk"),
    ("My favourite colour is teal.", "What is my favourite colour?", "teal"),
    ("My dog's name is Rex.", "What is my dog's name?", "Rex"),
    ("I work at Nordlys Robotics.", "Where do I work?", "Nordlys"),
    ("I'm allergic to penicillin.", "What am I allergic to?", "penicillin"),
    ("Remember that my locker code is 4512.", "What is my locker code?", "4512"),
    ("Please remember the wifi password is Fjord88.", "What is the wifi password?", "Fjord88"),
    ("My sister's birthday is on June 3rd.", "When is my sister's birthday?", "June 3rd"),
    ("My favourite book is Dune.", "What is my favourite book?", "Dune"),
    ("I am 34 years old.", "How old am I?", "34"),
    (
        "Remember that my dentist appointment is Friday at 9.",
        "When is my dentist appointment?",
        "Friday",
    ),  # fmt: skip
    ("My car is a blue Volvo.", "What car do I have?", "Volvo"),
    ("My partner's name is Sigrid.", "What is my partner's name?", "Sigrid"),
    ("Remember that I parked on level 3 of the garage.", "Where did I park?", "level 3"),
    ("My phone number is 555-0199.", "What is my phone number?", "555-0199"),
    ("I work as a marine biologist.", "What is my job?", "marine biologist"),
    ("My favourite food is lasagne.", "What is my favourite food?", "lasagne"),
    (
        "Remember that the meeting with Lars is on Tuesday.",
        "When is the meeting with Lars?",
        "Tuesday",
    ),  # fmt: skip
]
TOPICS = ["the weather", "football", "a recipe for soup", "my garden", "the news", "a film",
          "the train schedule", "a podcast", "chess openings", "the museum", "running shoes",
          "a board game", "jazz music", "the election", "bread baking", "winter tyres"]  # fmt: skip
VERBS = ["Tell me about", "What do you think of", "Can you summarise", "Any tips on",
         "I read something about", "Let's talk about"]  # fmt: skip


def conversation(n_turns: int = 300, seed: int = 7) -> list[dict[str, Any]]:
    """``n_turns`` turns (user and assistant alternate) with the 20 facts spread evenly."""
    rng = random.Random(seed)
    turns: list[dict[str, Any]] = []
    step = n_turns // len(FACTS)
    for i in range(n_turns // 2):
        if i % (step // 2) == 0 and i // (step // 2) < len(FACTS):
            text = FACTS[i // (step // 2)][0]
        else:
            text = f"{rng.choice(VERBS)} {rng.choice(TOPICS)}? (message {i})"
        turns.append({"role": "user", "content": text, "ts": 1_700_000_000.0 + 2 * i})
        turns.append({"role": "assistant", "content": f"Here is something about that ({i}).",
                      "ts": 1_700_000_001.0 + 2 * i})  # fmt: skip
    return turns


def recall_at_5(svc: Services, session: str) -> list[str]:
    """The questions whose answer is not in the top 5 memories."""
    missed = []
    for _, question, expected in FACTS:
        hits = remembering.memory_search(svc, session, question, 5)
        if not any(expected in h.text for h in hits):
            missed.append(question)
    return missed


def test_twenty_facts_over_300_turns_survive_a_restart(
    tmp_path: Path, minilm: SentenceEmbedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    svc = build_services(settings, embedder=minilm)
    turns = conversation()
    assert len(turns) == 300
    assert remembering.append_turns(svc, "long", turns) == 300
    missed = recall_at_5(svc, "long")
    assert len(missed) <= 1, missed
    svc.close()  # stops the embedded Redis and Chroma of this data dir
    assert not (tmp_path / "data" / "run" / "redis.json").exists()

    again = build_services(settings, embedder=minilm)
    try:
        assert remembering.show_session(again, "long")["count"] == 300
        assert len(recall_at_5(again, "long")) <= 1
        names = {f.key: f.value for f in remembering.session_facts(again, "long")}
        assert names["name"] == "Marguerite" and names["city"] == "Trondheim"
    finally:
        again.close()


@pytest.mark.slow
def test_the_real_model_answers_keyed_facts_from_memory(
    base_services: Services, minilm: SentenceEmbedder, real_model: Any
) -> None:
    settings = base_services.settings.updated(**{"max_new_tokens": 24})
    svc = Services(settings, base_services.redis, base_services.chroma, embedder=minilm,
                   tenant="m" + uuid.uuid4().hex[:12])  # fmt: skip
    svc.use_model(real_model)
    from overlay.turn import ask

    remembering.append_turns(svc, "chat", conversation())
    for _, question, expected in FACTS[:3]:  # the keyed facts: name, city, preference
        out = ask(svc, question, session="chat", mode="choose")  # the model chooses
        print(question, out.answer, out.timings_ms)
        assert not out.abstained and expected in out.answer, (question, out.answer)
        assert out.citations[0].hit.kind == "fact" and expected in out.citations[0].hit.text
    # the asked questions and the answers were logged as turns of the session
    assert remembering.show_session(svc, "chat")["count"] == 306
