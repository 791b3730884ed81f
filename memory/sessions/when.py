"""Relative times in a turn ("yesterday", "last week", "two years ago") resolved against the
time the turn was said, when it is stored — a pure, table-driven function, no model.

Each resolution is ``{"text", "start", "end", "label"}``: the phrase as written, the span of
time it names (epoch seconds, UTC days) and a readable label ("7 May 2023", "Friday 10 March
2023" for "last Friday", "the week before 9 June 2023", "2021"). A lookup filters on the span;
an answer about *when* quotes the label.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
        "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a few": 3}  # fmt: skip
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_N = r"(?P<n>\d{1,2}|a couple of|a few|an?|one|two|three|four|five|six|seven|eight|nine|ten)"
_PATTERN = re.compile(
    r"\b(?:(?P<yesterday>yesterday)|(?P<today>today|tonight|this morning|this afternoon"
    r"|this evening)|(?P<lastnight>last night)"
    r"|(?P<rel>last|this|next|past) (?P<unit>week(?:end)?|month|year|"
    + "|".join(_DAYS)
    + r")|"
    + _N
    + r" (?P<agounit>day|week|month|year)s? ago)\b",
    re.IGNORECASE,
)


def day_label(d: date) -> str:
    """``7 May 2023`` (how LoCoMo and most people write a date)."""
    return f"{d.day} {d:%B %Y}"


def _span(start: date, days: int) -> tuple[float, float]:
    t0 = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()
    return t0, t0 + days * 86400 - 1


def _month_start(d: date, back: int) -> date:
    m = d.year * 12 + d.month - 1 - back
    return date(m // 12, m % 12 + 1, 1)


def _unit(day: date, rel: str, unit: str) -> tuple[date, int, str] | None:
    """(start, days, label) of "last|this|next|past UNIT" said on ``day``."""
    step = {"last": -1, "past": -1, "this": 0, "next": 1}[rel]
    said = day_label(day)
    if unit in _DAYS:
        idx, wd = _DAYS.index(unit), day.weekday()
        shift = {-1: -((wd - idx) % 7 or 7), 0: idx - wd, 1: (idx - wd) % 7 or 7}[step]
        d = day + timedelta(days=shift)
        return d, 1, f"{d:%A} {day_label(d)}"  # "last Friday" → "Friday 10 March 2023"
    if unit.startswith("week"):
        monday = day - timedelta(days=day.weekday()) + timedelta(weeks=step)
        if unit == "weekend":
            sat = monday + timedelta(days=5)
            return sat, 2, f"the weekend of {day_label(sat)}"
        where = {-1: "the week before", 0: "the week of", 1: "the week after"}[step]
        return monday, 7, f"{where} {said}"
    if unit == "month":
        first = _month_start(day, -step)
        nxt = _month_start(first, -1)
        return first, (nxt - first).days, f"{first:%B %Y}"
    return date(day.year + step, 1, 1), 365, str(day.year + step)


def _ago(day: date, n: int, unit: str) -> tuple[date, int, str]:
    if unit == "day":
        d = day - timedelta(days=n)
        return d, 1, day_label(d)
    if unit == "week":
        d = day - timedelta(weeks=n)
        return d - timedelta(days=d.weekday()), 7, f"the week of {day_label(d)}"
    if unit == "month":
        first = _month_start(day, n)
        return first, (_month_start(first, -1) - first).days, f"{first:%B %Y}"
    return date(day.year - n, 1, 1), 365, str(day.year - n)


def _resolve(m: re.Match[str], day: date) -> tuple[date, int, str] | None:
    if m["yesterday"]:
        d = day - timedelta(days=1)
        return d, 1, day_label(d)
    if m["today"]:
        return day, 1, day_label(day)
    if m["lastnight"]:
        d = day - timedelta(days=1)
        return d, 2, f"the night before {day_label(day)}"
    if m["rel"]:
        return _unit(day, m["rel"].lower(), m["unit"].lower())
    n = m["n"].lower()
    return _ago(day, int(n) if n.isdigit() else _NUM[n], m["agounit"].lower())


def resolve_times(text: str, ts: float) -> list[dict[str, Any]]:
    """The relative times of ``text`` said at ``ts`` (epoch seconds), in order of appearance."""
    day = datetime.fromtimestamp(ts, UTC).date()
    out = []
    for m in _PATTERN.finditer(text):
        got = _resolve(m, day)
        if got is None:
            continue
        start, days, label = got
        t0, t1 = _span(start, days)
        out.append({"text": m.group(0), "start": t0, "end": t1, "label": label})
    return out


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")  # fmt: skip
_MON = r"(?P<mon>" + "|".join(m[:3] + r"(?:" + m[3:] + r")?\.?" for m in _MONTHS) + ")"
_DATES = re.compile(
    r"\b(?:(?P<d1>\d{1,2})(?:st|nd|rd|th)? " + _MON.replace("mon>", "m1>") + r",? (?P<y1>\d{4})"
    r"|" + _MON.replace("mon>", "m2>") + r" (?P<d2>\d{1,2})(?:st|nd|rd|th)?,? (?P<y2>\d{4})"
    r"|" + _MON.replace("mon>", "m3>") + r",? (?P<y3>\d{4})"
    r"|(?P<y4>(?:19|20)\d{2}))\b",
    re.IGNORECASE,
)


def _month(name: str) -> int:
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name.lower()[:3]))


def named_spans(text: str) -> list[tuple[float, float]]:
    """The spans of time a text names by date ("10 April 2022", "July 2023", "in 2022"),
    as (start, end) epoch seconds — what a question's "on/in <date>" asks about."""
    out = []
    for m in _DATES.finditer(text):
        try:
            if m["y1"] or m["y2"]:
                d = date(int(m["y1"] or m["y2"]), _month(m["m1"] or m["m2"]),
                         int(m["d1"] or m["d2"]))  # fmt: skip
                out.append(_span(d, 1))
            elif m["y3"]:
                first = date(int(m["y3"]), _month(m["m3"]), 1)
                out.append(_span(first, (_month_start(first, -1) - first).days))
            else:
                out.append(_span(date(int(m["y4"]), 1, 1), 365))
        except ValueError:  # "31 February"
            continue
    return out
