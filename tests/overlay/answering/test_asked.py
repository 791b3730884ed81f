"""The answer-kind check: a read answer that is the wrong kind of thing is no answer."""

import pytest

from overlay.answering.answers import Draft
from overlay.answering.asked import asks_for, fits
from overlay.answering.widening import checked, widen


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much does the Kestrel K-9 cost?", "price"),
        ("What is the price of the T-40?", "price"),
        ("How many people does the company employ?", "number"),
        ("When was Halvorsen Instruments founded?", "time"),
        ("How long is parental leave?", "duration"),
        ("How often are the executive officers elected?", "duration"),
        ("How long ago did the company move?", "time"),
        ("What year did the Berlin Wall fall?", "time"),
        ("What day of the week does the market open?", "time"),
        ("How much does the T-40 weigh?", None),
        ("When a pathogen is eaten by a phagocyte, what vesicle traps it?", None),
        ("Who founded Halvorsen Instruments?", None),
        ("How do I contact support?", None),
        ("In the 2019 report, how many people does the company employ?", "number"),
        ("Under the warranty terms, when does the warranty end?", "time"),
    ],
)
def test_the_kind_a_question_asks_for(question: str, kind: str | None) -> None:
    assert asks_for(question) == kind


@pytest.mark.parametrize(
    ("question", "answer", "ok"),
    [
        ("How much does the Kestrel K-9 cost?", "640 grams", False),
        ("How much does the Kestrel K-9 cost?", "1,200 euros", True),
        ("How much does the Kestrel K-9 cost?", "NOK 9,900", True),
        ("How much does the Kestrel K-9 cost?", "It is free for customers", True),
        ("How much did the relocation cost?", "0.9", True),
        ("How many people does the company employ?", "340", True),
        ("How many people does the company employ?", "thousands", True),
        ("How many people does the company employ?", "Ingrid Halvorsen", False),
        ("When was Halvorsen Instruments founded?", "1987", True),
        ("When was Halvorsen Instruments founded?", "in the spring", True),
        ("When was Halvorsen Instruments founded?", "Ingrid Halvorsen", False),
        ("How long is parental leave?", "four days", True),
        ("How long is the data kept?", "as long as it is necessary", True),
        ("How long did it take James to finish the game?", "six months", True),
        ("How long did it take James to finish the game?", "last Thursday", False),
        ("How often are the executive officers elected?", "annually", True),
        ("When is goodwill impaired?", "if the carrying value is greater", True),
        ("Who founded it?", "anything at all", True),
    ],
)
def test_an_answer_fits_or_not(question: str, answer: str, ok: bool) -> None:
    assert fits(question, answer) is ok


def test_a_wrong_kind_of_span_falls_back_to_its_sentence_or_to_no_answer() -> None:
    q = "How much does the Kestrel K-9 cost?"
    wrong = Draft("640 grams [2]", [2], 0, "span", sentence="The T-40 weighs 640 grams.")
    assert checked(q, wrong) is None
    both = "The K-9 costs 990 euros and weighs 640 grams."
    priced = Draft("640 grams [1]", [1], 0, "span", sentence=both)
    got = checked(q, priced)
    assert got is not None and got.text == f"{both} [1]"
    assert got.kind == "sentence" and got.cited == [1]
    right = Draft("990 euros [1]", [1], 0, "span", sentence="It costs 990 euros.")
    assert checked(q, right) is right


@pytest.mark.parametrize(
    "question",
    ["What time management techniques do they use?", "What day trips did Anna plan?"],
)
def test_a_time_word_that_names_a_thing_asks_for_no_time(question: str) -> None:
    assert asks_for(question) is None


def test_a_leading_scope_does_not_hide_what_the_question_asks_for() -> None:
    """A yes/no question is answered with its sentence, named document or not."""
    sentence = "This License does not grant permission to use the trade names of the Licensor."
    draft = Draft("6. Trademarks [1]", [1], 1, "span", sentence=sentence)
    for question in (
        "Can I use the licensor's trademarks?",
        "Under the Apache License, can I use the licensor's trademarks?",
    ):
        assert widen(question, draft, share=0.9).text == f"{sentence} [1]"
    assert widen("Under the Apache License, who is the Licensor?", draft, 0.9) == draft


def test_what_only_scopes_a_question() -> None:
    from overlay.choosing.questions import question_core, question_scope

    q = "Under the Apache License, can I use the licensor's trademarks?"
    assert question_core(q) == "can I use the licensor's trademarks?"
    assert question_scope(q) == "Under the Apache License, "
    court = "Which court has jurisdiction over disputes under the Mozilla Public License?"
    assert question_scope(court).strip() == "Mozilla Public License"
    assert question_scope("What did the Gulf War do in the early 1990s?") == ""


@pytest.mark.parametrize(
    ("question", "whole"),
    [
        ("How do I contact support?", True),
        ("How to reset the sensor?", True),
        ("How the website ensures security of my data?", True),
        ("How exactly does the desk answer?", True),
        ("How effective was the support desk?", False),  # a degree: a word answers it
        ("How accurate is the sensor?", False),
        ("How many phone lines are there?", False),
    ],
)
def test_how_a_thing_is_done_is_a_clause_how_good_it_is_a_word(question: str, whole: bool) -> None:
    sentence = "The support desk answers by phone on weekdays, and it is very effective."
    draft = Draft("by phone [1]", [1], 0, "span", sentence=sentence)
    assert (widen(question, draft, share=0.9).text == f"{sentence} [1]") is whole
