"""The shipped strict reader (``reader-strict``) says when a window does not answer; the default
reader does not. The real base model, both built-in adapters."""

from __future__ import annotations

import math

from overlay.answering.reading import (
    READER_DECODING,
    judge_window,
    no_answer_id,
    reader_prompt,
)
from overlay.knobs import AnswerSettings
from overlay.model.decode import decode
from overlay.services import Services

LEAVE = (
    "Every employee receives 27 days of paid annual leave, plus the public holidays of the "
    "office they work in. Core hours are from 10:00 to 15:00, Monday to Thursday."
)
ASKED = "How many days of paid annual leave does an employee get?"
NOT_ASKED = "What is the boiling point of mercury?"


def _read(services: Services, adapter: str, question: str) -> tuple[str, float]:
    """The reader's greedy reply and its first-step probability of the no-answer reply."""
    tok = services.model.tokenizer
    none = no_answer_id(tok)
    assert none is not None  # "none" is one token of SmolLM2's vocabulary
    with services.run_model(adapter) as model:
        out = decode(model, tok, reader_prompt(tok, question, LEAVE), READER_DECODING,
                     watch=(none,))  # fmt: skip
    return out.text, math.exp(out.watched[none])


def test_the_strict_reader_says_a_window_does_not_answer(base_services: Services) -> None:
    threshold = AnswerSettings().reader_no_answer
    text, p_none = _read(base_services, "reader-strict", NOT_ASKED)
    assert text == "none" and p_none > threshold
    text, p_none = _read(base_services, "reader-strict", ASKED)
    assert "27" in text and p_none < 0.1


def test_the_default_reader_never_says_so(base_services: Services) -> None:
    threshold = AnswerSettings().reader_no_answer
    for question in (ASKED, NOT_ASKED):
        text, p_none = _read(base_services, "reader", question)
        assert text != "none" and p_none < 0.1 < threshold


def test_the_default_judge_is_the_strict_reader_and_judges_a_window(
    base_services: Services,
) -> None:
    s = AnswerSettings()
    assert s.reader_judge == "reader-strict" != s.reader_adapter
    tok = base_services.model.tokenizer
    with base_services.run_model(s.reader_judge) as model:
        unasked = judge_window(model, tok, reader_prompt(tok, NOT_ASKED, LEAVE))
        asked = judge_window(model, tok, reader_prompt(tok, ASKED, LEAVE))
    assert unasked[0] > s.reader_no_answer and asked[0] < 0.1
    assert unasked[1] == len(reader_prompt(tok, NOT_ASKED, LEAVE))  # every prompt token read


def test_a_turn_judges_with_the_judge_set_unless_it_is_none_or_the_reader(
    base_services: Services,
) -> None:
    from overlay.answering.read_mode import turn_judge as _judge

    before = base_services.settings
    try:
        judge = _judge(base_services)
        assert judge is not None  # the default: reader-strict judges the default reader
        tok = base_services.model.tokenizer
        p_none, read = judge(reader_prompt(tok, NOT_ASKED, LEAVE))
        assert p_none > before.answer.reader_no_answer and read > 0
        for off in ({"reader_judge": ""}, {"reader_adapter": "reader-strict"}):
            base_services.settings = before.updated(answer=off)
            assert _judge(base_services) is None  # no judge, or the reader judges itself
    finally:
        base_services.settings = before
