"""Fact extraction (pure, table-driven) and taught facts in the weight table."""

from __future__ import annotations

import pytest

from memory.errors import InvalidInput
from memory.sessions.extract import cue_matches, extract_facts
from overlay import remembering
from overlay.services import Services

CASES = [
    # (message, expected {key: value}) — values keep the user's words and language
    ("My name is Alex.", {"name": "Alex"}),
    ("my name's Dana", {"name": "Dana"}),
    ("Actually, call me Bob", {"name": "Bob"}),
    ("You can call me Sam, by the way.", {"name": "Sam"}),
    ("I'm called Mia. I moved to Oslo last year.", {"name": "Mia", "city": "Oslo"}),
    ("I go by J.R.", {"name": "J.R"}),
    ("I live in Lisbon, Portugal and I love it", {"city": "Lisbon, Portugal"}),
    ("I'm based in São Paulo.", {"city": "São Paulo"}),
    ("I am from Kraków", {"from": "Kraków"}),
    ("I prefer green tea in the morning.", {"preference": "green tea in the morning"}),
    ("I'd rather use dark mode", {"preference": "dark mode"}),
    ("I work at Halvorsen Instruments", {"employer": "Halvorsen Instruments"}),
    ("I work as a marine biologist.", {"job": "marine biologist"}),
    ("I am 34 years old", {"age": "34"}),
    ("I'm allergic to peanuts!", {"allergy": "peanuts"}),
    ("My favourite colour is teal.", {"favourite colour": "teal"}),
    ("my dog's name is Rex", {"dog's name": "Rex"}),
    ("Je m'appelle Élodie.", {"name": "Élodie"}),
    ("Ich heiße Jörg und wohne in Köln", {"name": "Jörg"}),
    ("ich wohne in München", {"city": "München"}),
    ("Me llamo Lucía.", {"name": "Lucía"}),
    ("Prefiero el café solo", {"preference": "el café solo"}),
    ("Hi! How are you today?", {}),
    ("Please call me later", {}),
    ("My question is simple: why?", {}),
    ("What is my name?", {}),
    ("I like football.", {}),
]


@pytest.fixture
def services(services_both: Services) -> Services:
    """Every test here runs on the single Redis server and on the Redis Cluster."""
    return services_both


@pytest.mark.parametrize(("message", "expected"), CASES)
def test_extraction_table(message: str, expected: dict[str, str]) -> None:
    got = {f.key: f.value for f in extract_facts(message)}
    assert got == expected


def test_remember_notes_are_kept_verbatim_and_distinct() -> None:
    a = extract_facts("Remember that my locker code is 4512.")
    b = extract_facts("please remember: the wifi password is Fjord!88")
    assert [f.value for f in a] == ["my locker code is 4512"]
    assert [f.value for f in b] == ["the wifi password is Fjord!88"]
    assert a[0].key.startswith("note:") and a[0].key != b[0].key


def test_a_key_stated_twice_in_one_message_keeps_the_last() -> None:
    facts = extract_facts("My name is Alex. Actually, call me Bob.")
    assert [(f.key, f.value) for f in facts] == [("name", "Bob")]


def test_cues_link_questions_to_keys() -> None:
    assert cue_matches("city", "Where do I live?")
    assert cue_matches("dog's name", "What is my dog's name?")
    assert not cue_matches("city", "What is the capital of Peru?")
    assert not cue_matches("note:abc", "what is my locker code")


def test_taught_facts_supersede_and_keep_old_objects(services: Services) -> None:
    first = remembering.teach_fact(services, "Halvorsen Instruments", "CEO", "Maja Lund")
    second = remembering.teach_fact(services, "halvorsen instruments", "ceo", "Jon Berg")
    assert first.object == "Maja Lund" and second.object == "Jon Berg"
    objs = remembering.get_taught_facts(services, "Halvorsen Instruments", "CEO")
    assert [f.object for f in objs] == ["Jon Berg", "Maja Lund"]
    assert objs[0].subject == "Halvorsen Instruments"  # the casing first written
    listed = remembering.get_taught_facts(services)
    assert [(f.subject, f.object) for f in listed] == [("Halvorsen Instruments", "Jon Berg")]
    hits = services.taught_facts.search("Halvorsen Instruments CEO", 3)
    assert hits and hits[0].kind == "fact" and "Jon Berg" in hits[0].text
    remembering.remove_taught_fact(services, "Halvorsen Instruments", "CEO")
    assert remembering.get_taught_facts(services) == []
    assert services.taught_facts.search("Halvorsen Instruments CEO", 3) == []
    with pytest.raises(InvalidInput):
        remembering.teach_fact(services, "x", " ", "y")
