"""``overlay ask`` shows, for each citation, the sentence that holds the answer."""

from __future__ import annotations

from overlay.commands.ask import cited_sentence

HANDBOOK = (
    "# Employee Handbook\n\n## Working hours\nCore hours are from 10:00 to 15:00. "
    "Employees receive 27 days of paid  annual leave per calendar year. "
    "Unused days expire in 2027.\n"
)


def test_the_sentence_holding_the_span_not_the_chunk_start() -> None:
    got = cited_sentence("27 [1]", HANDBOOK)
    assert got == "Employees receive 27 days of paid annual leave per calendar year."


def test_markers_case_and_whitespace_do_not_matter() -> None:
    got = cited_sentence("Paid\nannual leave [1][2].", HANDBOOK)
    assert got.startswith("Employees receive 27 days")


def test_whole_words_only() -> None:
    assert cited_sentence("202", HANDBOOK).startswith("# Employee Handbook")


def test_no_sentence_holds_it_falls_back_to_the_chunk_start() -> None:
    got = cited_sentence("Everyone gets four weeks off [1].", HANDBOOK)
    assert got == " ".join(HANDBOOK.split())[:120]


def test_a_long_sentence_is_cut() -> None:
    long = "The answer is here " + "and more " * 60 + "."
    got = cited_sentence("the answer", long, limit=50)
    assert len(got) == 50 and got.endswith("…")
