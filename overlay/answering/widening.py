"""Answers as long as the question needs: a span widened to its whole sentence where a short
span would cut a clause (``widen``), a sentence shown with what it introduces
(``whole_sentence``), and a span of the wrong kind for the question answered by its sentence
or not at all (``checked``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from overlay.answering.answers import Draft
from overlay.answering.asked import fits
from overlay.choosing.questions import question_core
from overlay.choosing.views import BULLETS

_CITE_TAIL = re.compile(r"\s*\[\d+\]\s*$")


FOLLOW_WORDS = 60  # at most this much of what a sentence ending in ":" introduces is shown
HEADING_WORDS = 12  # a piece this short without an end mark is a heading
# a heading: capitalised words (after any section number), no end mark and nothing of code in
# it ("Load configuration without altering the environment", "2.2. The source XML files",
# "Halvorsen Instruments — Product Line"; not "conda install -c conda-forge tqdm" or
# "threadpool_limits(limits=1)")
_HEADING = re.compile(
    r"(?:\d{1,3}(?:\.\d{1,3})*\.?\s+)?[A-Z][\w'’&,-]*(?:\s+(?:[\w'’&,-]+|[—–]))*[A-Za-z0-9]"
)


_LIST_ITEM = re.compile(rf"(?:[-*{BULLETS}]|\(?\w{{1,3}}[.)])\s")
_BULLET = re.compile(rf"^[-*{BULLETS}]\s+")  # a list item's bullet: no part of its sentence


def asks(sentence: str) -> bool:
    """Whether ``sentence`` is a question (a FAQ's "Does Cargo work on Windows?"): it never
    answers alone; the sentences after it do."""
    return sentence.rstrip().endswith("?")


def after_sentence(sentences: Sequence[str], at: int) -> str:
    """The sentence after ``sentences[at]``; where it opens a list, the list's items with it
    (up to ``FOLLOW_WORDS`` words): "By default, load_dotenv() will:" introduces three. After a
    question (a FAQ's "Does Cargo work on Windows?"), its answer: the sentences up to the next
    question, up to ``FOLLOW_WORDS`` words."""
    shown: list[str] = []
    asked = at < len(sentences) and asks(sentences[at])
    for s in sentences[at + 1 :]:
        if asked and shown and asks(s):
            break  # the next question of the FAQ
        if not asked and shown and (not _LIST_ITEM.match(shown[0]) or not _LIST_ITEM.match(s)):
            break
        shown.append(s)
        if sum(len(x.split()) for x in shown) >= FOLLOW_WORDS:
            break
    return " ".join(shown)


def whole_sentence(draft: Draft) -> str:
    """A span's sentence as an answer: with what it introduces where it ends in a colon ("To
    install redis-py, simply:" → "… simply: pip install redis") or is a heading (a few words, no
    end mark: "Load configuration without altering the environment: The function …"), up to
    ``FOLLOW_WORDS`` words of it; a sentence that only announces the answer is none, nor is a
    question ("Does Cargo work on Windows?" shows its answer after it). A list item's bullet is
    dropped."""
    sentence = _BULLET.sub("", draft.sentence.strip(), count=1)  # "- Hashes are …" → "Hashes …"
    heading = _HEADING.fullmatch(sentence) is not None and len(sentence.split()) <= HEADING_WORDS
    if not draft.follow or not (sentence.endswith(":") or asks(sentence) or heading):
        return sentence
    words = draft.follow.split()
    shown = " ".join(words[:FOLLOW_WORDS]) + (" …" if len(words) > FOLLOW_WORDS else "")
    return f"{sentence}{':' if heading else ''} {shown}"


# Questions whose answer is a clause or a whole statement, not a name or a number: how a thing
# is done ("how do/does/is/can …", "how to …", "how the website …"; not "how many/much/long/…"
# nor a degree, "How effective was …?", "How accurate did Guo make …?", answered by a word or
# a measure), why, yes/no questions, "what happens / what does … say / under what conditions".
# Fitted with bench/answers_bench.py --fit on DEVELOPMENT data only.
_AUX = (
    r"(do|does|did|is|are|was|were|can|could|will|would|may|might|must|should|shall|has|have|had)"
)
_CLAUSE = re.compile(
    rf"^\s*(why\b|how\s+((exactly|else|best|then)\s+)?({_AUX}|to|come|the|a|an|this|that|these|"
    r"those|my|your|our|their|its|his|her|we|you|they|i|he|she|it|users?|people|one)\b|"
    rf"{_AUX}\b|"
    r"what\s+(happens|does\s.*\b(say|state|mean)|is\s+the\s+(purpose|reason|policy))|"
    r"under\s+what|in\s+what\s+(way|case)|describe|explain)",
    re.I,
)


def widen(question: str, draft: Draft, share: float, clause: bool = True) -> Draft:
    """A span answered as its whole sentence where a short span would cut the answer: the span
    already covers at least ``share`` of the sentence's words, or (``clause``) the question asks
    for a clause or a statement (after any leading scope: "Under the Apache License, can I …").
    Never cuts: the sentence holds the span."""
    if draft.kind != "span" or not draft.sentence or not draft.cited:
        return draft
    span = _CITE_TAIL.sub("", draft.text)
    words, total = len(span.split()), max(1, len(draft.sentence.split()))
    if words / total >= share or (clause and _CLAUSE.search(question_core(question))):
        return _as_sentence(draft)
    return draft


def _as_sentence(draft: Draft) -> Draft:
    """``draft`` answered with its span's whole sentence, cited as the span was."""
    return replace(draft, text=f"{whole_sentence(draft)} [{draft.cited[0]}]", kind="sentence")


def checked(question: str, draft: Draft) -> Draft | None:
    """``draft`` if its answer is the kind of thing ``question`` asks for (``asked.fits``: a
    price, a number, a length of time, a time); else its whole sentence where that is, else
    None (the turn abstains: "How much does the K-9 cost?" is not answered "640 grams")."""
    if draft.kind == "abstained" or not draft.cited:
        return draft
    if fits(question, _CITE_TAIL.sub("", draft.text)):
        return draft
    if draft.sentence and fits(question, draft.sentence):
        return _as_sentence(draft)
    return None
