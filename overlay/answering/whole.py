"""A read span made whole where a cut would change what it says: a number keeps its scale
word ("$191.7" of "$191.7 million") and the word that bounds it ("13%" of "approximately 13%",
"50" of "over 50 countries"), a part of a date is the whole date ("2019" of "declared on June
13, 2019")."""

from __future__ import annotations

import re

# a number's scale word or sign right after it in the sentence: "$191.7" is "$191.7 million"
_SCALE = re.compile(
    r"\s?(?:%|per\s?cent\b|percent\b|(?:thousand|million|billion|trillion)s?\b)", re.I
)


def whole_amount(span: str, sentence: str) -> str:
    """``span`` with the scale word that follows it in ``sentence`` where it ends on a number
    ("$191.7" of "a valuation allowance of $191.7 million" → "$191.7 million"): a number
    without its scale is a different amount."""
    at = sentence.find(span)
    if at < 0 or not span[-1:].isdigit():
        return span
    scale = _SCALE.match(sentence, at + len(span))
    return span + scale.group(0) if scale else span


# words that bound or approximate the number after them: "50" of "over 50 countries" is not
# "over 50"; a cut that drops them states another amount
_BOUND = re.compile(
    r"(?:\b(?:approximately|approx\.|about|around|roughly|nearly|almost|over|under|some|within|"
    r"(?:(?:no|not)\s+)?(?:more|less|fewer)\s+than|up\s+to|at\s+(?:least|most)|"
    r"as\s+(?:many|much)\s+as|"
    r"in\s+excess\s+of|an\s+estimated|just)\s+)+$",
    re.I,
)
_YEAR = re.compile(r"(?:19|20)\d\d\b")  # "over 2018" compares with a year: no bound on it


def whole_bound(span: str, sentence: str) -> str:
    """``span`` with the words right before it in ``sentence`` that bound or approximate the
    number it starts with ("13%" of "approximately 13% of its shares" → "approximately 13%",
    "50" of "in over 50 countries" → "over 50"): without them it states another amount. A
    year is never bound ("$63 million over 2018"), nor a span ``sentence`` holds twice."""
    at = sentence.find(span)
    if at < 0 or sentence.count(span) > 1 or not re.match(r"[$€£¥]?\d", span) or _YEAR.match(span):
        return span
    bound = _BOUND.search(sentence[:at])
    if not bound:
        return span
    return sentence[bound.start() : at] + span


_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
# a whole date: "June 13, 2019", "13 June 2019", "June 2019"
_DATE = re.compile(
    rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?"
    rf"\s+\d{{4}}|{_MONTH},?\s+\d{{4}})\b"
)
_ASKS_PART = re.compile(r"\b(?:year|month|day)s?\b", re.I)  # "In which year …?" asks for a part


def whole_date(span: str, sentence: str, question: str) -> str:
    """``span`` as the whole date it is part of in ``sentence`` ("2019" of "declared on June 13,
    2019" → "June 13, 2019"), unless ``question`` asks for a year, month or day: a year alone
    does not say when."""
    at = sentence.find(span)
    if at < 0 or sentence.count(span) > 1 or _ASKS_PART.search(question):
        return span  # not there, or which of its dates the reader meant is unknown
    for date in _DATE.finditer(sentence):
        if date.start() <= at and at + len(span) <= date.end():
            return date.group(0) if len(span) < len(date.group(0)) else span
    return span
