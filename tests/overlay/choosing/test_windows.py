"""Views that do not depend on the question: a chunk's windows of whole sentences, and the one
that covers a question best."""

from __future__ import annotations

from overlay.choosing.views import window_view, windows


def count(text: str) -> int:
    return len(text.split())


TEXT = (
    "Alpha one two three. Beta four five six seven. Gamma paid leave days here. "
    "Delta x y z w v. Epsilon end."
)


def test_a_chunk_that_fits_is_its_one_window() -> None:
    assert windows("  short   text ", 20, count) == ["short text"]
    assert window_view("anything", "short text", 20, count) == "short text"


def test_windows_start_at_each_sentence_and_hold_whole_sentences() -> None:
    found = windows(TEXT, 13, count)
    assert found == [
        "Alpha one two three. Beta four five six seven.",
        "Beta four five six seven. Gamma paid leave days here.",
        "Gamma paid leave days here. Delta x y z w v.",
        "Delta x y z w v. Epsilon end.",
    ]  # "Epsilon end." alone lies inside the window before it
    assert all(count(w) <= 13 for w in found)


def test_a_sentence_longer_than_a_view_is_cut_by_words() -> None:
    found = windows("Short one. " + "Long " * 30 + "end. Last one.", 10, count)
    assert found[0] == "Short one."
    assert found[1] == " ".join(["Long"] * 10)
    assert found[2] == "Last one."


def test_the_window_covering_the_question_best_wins_ties_to_the_earlier() -> None:
    assert window_view("paid leave days", TEXT, 13, count) == (
        "Beta four five six seven. Gamma paid leave days here."
    )
    assert window_view("nothing matches", TEXT, 13, count) == found_first()
    assert window_view("gamma delta", TEXT, 13, count) == (
        "Gamma paid leave days here. Delta x y z w v."
    )


def found_first() -> str:
    return windows(TEXT, 13, count)[0]
