"""Answers: citation cleaning and mapping, extractive answers, the token budget, grounding."""

from __future__ import annotations

from typing import Any

import torch

from overlay.answering.answers import (
    PromptContext,
    build_prompt,
    clean_citations,
    extractive,
    grounded,
    supported,
)
from overlay.choosing.views import answer_sentence, query_view, split_sentences
from overlay.model.decode import Decoding

PASSAGES = [
    "# Leave\n\nEvery employee receives 27 days of paid annual leave. Unused days expire in March.",
    "The company was founded in 1987 by Ingrid Halvorsen in Tromsø.",
]


def test_citations_outside_the_given_range_are_removed() -> None:
    text, cited = clean_citations("Leave is 27 days [1][3], founded 1987 [2, 7] [0].", given=2)
    assert text == "Leave is 27 days [1], founded 1987 [2]."
    assert cited == [1, 2]
    assert clean_citations("No citations here.", 2) == ("No citations here.", [])
    assert clean_citations("Twice [2] and again [2]", 2)[1] == [2]


def test_extractive_picks_the_best_sentence_and_cites_it() -> None:
    draft = extractive("How many days of paid annual leave?", PASSAGES)
    assert draft.text == "Every employee receives 27 days of paid annual leave. [1]"
    assert draft.cited == [1]


def test_sentences_and_views() -> None:
    assert split_sentences(PASSAGES[0])[0] == "Leave"

    def count(t: str) -> int:
        return len(t.split())

    long = " ".join(f"Filler sentence number {i} about nothing." for i in range(30))
    text = long + " Paid leave is 27 days. " + long
    view = query_view("paid leave days", text, 20, count)
    assert "Paid leave is 27 days." in view and count(view) <= 20
    assert query_view("x", "short text", 20, count) == "short text"
    cut = query_view("x", "word " * 50, 10, count)
    assert count(cut) == 10


def test_prompt_respects_the_token_budget_and_numbers_passages(real_tokenizer: Any) -> None:
    tok = real_tokenizer
    passages = [f"Passage {i}: " + "lorem ipsum dolor sit amet " * 20 for i in range(6)]
    ctx = PromptContext(facts=["My name is Ada."], turns=[("user", "hi"), ("assistant", "hello")])

    def count(t: str) -> int:
        return len(tok(t, add_special_tokens=False)["input_ids"])

    prompt, given = build_prompt(count, tok, "What is it?", passages, ctx, budget=400)
    n = len(tok(prompt, add_special_tokens=False)["input_ids"])
    assert n <= 400 and 1 <= given < 6
    assert "[1] Passage 0" in prompt and f"[{given + 1}]" not in prompt
    assert "My name is Ada." in prompt and "hello" in prompt
    full, all_given = build_prompt(count, tok, "What is it?", passages[:2], None, budget=4000)
    assert all_given == 2 and "[2] Passage 1" in full


def test_grounding_check() -> None:
    q = "How many days of leave?"
    assert supported("Employees receive 27 days of paid annual leave [1].", q, PASSAGES)
    assert not supported("Employees receive 48 days of leave.", q, PASSAGES)  # invented number
    assert not supported("Bananas are yellow fruit grown in tropical plantations.", q, PASSAGES)
    assert not supported("[1]", q, PASSAGES)


def test_grounded_with_a_babbling_model_falls_back_to_extractive(tiny_model: Any) -> None:
    with torch.inference_mode():
        draft = grounded(
            tiny_model.model, tiny_model.tokenizer, "how many days of paid leave", PASSAGES,
            params=Decoding(max_new_tokens=8),
        )  # fmt: skip
    assert draft.text == "Every employee receives 27 days of paid annual leave. [1]"
    assert draft.cited == [1]


def test_answer_sentence_prefers_new_information_of_the_asked_kind() -> None:
    text = "## Lumen L-2 data logger\n\nThe L-2 stores readings. It was released in March 2019."
    assert answer_sentence("When was the Lumen L-2 data logger released?", text) == (
        "It was released in March 2019."
    )
    bio = "Halvorsen Instruments makes gauges. It was founded by Ingrid Halvorsen."
    assert answer_sentence("Who founded Halvorsen Instruments?", bio).endswith("Ingrid Halvorsen.")


def test_a_heading_in_a_view_never_joins_the_sentence_after_it() -> None:
    text = (
        "# Handbook\n\n## Hours\n\nCore hours are ten to three on weekdays.\n\n"
        "## Leave\n\nEvery employee receives 27 days of paid annual leave.\n\n"
        + "Filler sentence about the canteen menu and the bicycle shed. "
        * 20
    )
    question = "How many days of paid annual leave?"
    view = query_view(question, text, 40, lambda t: len(t.split()))
    assert "Leave\n\nEvery employee" in view
    assert answer_sentence(question, view) == (
        "Every employee receives 27 days of paid annual leave."
    )
