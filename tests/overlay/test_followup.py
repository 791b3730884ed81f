"""Follow-up resolution (pure): which questions borrow the previous user turns' topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overlay.choosing.followup import BORROW_TURNS, is_followup, retrieval_query

CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "bench" / "data" / "followups.json").read_text()
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was it first released?", True),  # refers back
        ("How much does it weigh?", True),
        ("And email?", True),  # too short to stand alone
        ("Who approves the flights?", True),
        ("What about the K-9?", True),  # goes on from the last question
        ("What is the capital of Peru?", False),  # short, but it names its own topic
        ("Who is the chief executive of Halvorsen Instruments?", False),
        ("What warranty do Halvorsen sensors carry?", False),
        ("What was the price of oil in March of 1974?", False),
    ],
)
def test_is_followup(question: str, expected: bool) -> None:
    assert is_followup(question) is expected


def test_retrieval_query_borrows_the_last_user_turns() -> None:
    earlier = ["What does the Tidewater T-40 measure?", "What does the Lumen L-2 store?", " "]
    query = retrieval_query("When was it first released?", earlier)
    assert query.splitlines() == [*earlier[-1 - BORROW_TURNS : -1], "When was it first released?"]
    assert retrieval_query("When was it first released?", []) == "When was it first released?"
    standalone = "Who is the chief executive of Halvorsen Instruments?"
    assert retrieval_query(standalone, earlier) == standalone


def test_the_bench_conversations_are_classified_as_written() -> None:
    """The rule agrees with the fixture's labels on most conversations (it was fixed before
    they were written; ``bench/followup_bench.py`` measures what it does to retrieval)."""
    rows = [c for name in ("examples_docs", "squad_dev") for c in CASES[name]]
    agree = sum(is_followup(c["turns"][-1]) == c["followup"] for c in rows)
    assert agree / len(rows) >= 0.8, agree
