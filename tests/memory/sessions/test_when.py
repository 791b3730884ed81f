"""Relative times in a turn resolved against the day it was said (``memory.sessions.when``)."""

from __future__ import annotations

from datetime import UTC, datetime

from memory.sessions.when import resolve_times

MONDAY = datetime(2023, 3, 13, 15, tzinfo=UTC).timestamp()  # Monday 13 March 2023


def _labels(text: str) -> list[str]:
    return [w["label"] for w in resolve_times(text, MONDAY)]


def test_a_weekday_is_resolved_to_its_date_and_named() -> None:
    assert _labels("I started the yoga class last Friday.") == ["Friday 10 March 2023"]
    assert _labels("See you next Monday!") == ["Monday 20 March 2023"]
    got = resolve_times("last Friday", MONDAY)[0]
    assert datetime.fromtimestamp(got["start"], UTC).day == 10
    assert got["end"] - got["start"] == 86400 - 1  # one day


def test_days_weeks_and_years_keep_their_labels() -> None:
    assert _labels("yesterday") == ["12 March 2023"]
    assert _labels("last week") == ["the week before 13 March 2023"]
    assert _labels("two years ago") == ["2021"]
    assert _labels("nothing relative here") == []
