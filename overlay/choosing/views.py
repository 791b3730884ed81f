"""Small text helpers shared by the chooser and the answers: terms, sentences, views."""

from __future__ import annotations

import re
from collections.abc import Callable

from memory.stores.sparse import analyze
from overlay.choosing.markup import plain
from overlay.choosing.questions import defined_term, defines, question_core

# a sentence's end, a blank line, or a line that opens a list item ("- ", "• ", "2. ", "1.7. "; a
# wrapped line that starts with a number, "50, and the maximum is 100.", is none)
BULLETS = "•▪◦‣●"  # list bullets besides "-" and "*"
_SENTENCE = re.compile(
    rf"(?:(?<=[.!?])|(?<=[.!?][\"'”’)]))\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n\s*\n|\n(?=\s*(?:[-*#{BULLETS}]|\d{{1,3}}(?:\.\d{{1,3}})*[.)]\s))"
)
_WS = re.compile(r"[ \t]+")
_HEADING = re.compile(r"^#{1,6}\s+")


def terms(text: str) -> list[str]:
    """Normalised terms (the sparse index's analyser: lower-cased, stop words out, stemmed)."""
    return analyze(text)


# A piece the split regex ended that is not a sentence's end: a bare list or section number
# ("7.", "1.2.", "(b)", "iv."), an initial ("J.", "William E.", "C.F."), an abbreviation
# usually followed by a capital or a number ("e.g.", "St.", "Fig.", "U.S.", "c. 1455",
# "refs. 5,9"), or a short title-case run-in heading ("Trademarks.", "6. Basic Permissions:").
# It is joined to the piece after it.
_NUMBER = re.compile(r"\(?(?:\d{1,3}(?:\.\d{1,3})*|[ivxlIVXL]{1,4}|[A-Za-z])[.)]")
_ABBREV = re.compile(
    r"(?:^|[\s(\[\"'“‘])(?:e\.g|i\.e|cf|viz|vs|al|approx|ca|pp|No|Nos|Fig|Figs|Eq|Eqs|Sec|Art"
    r"|Ch|Vol|Mr|Mrs|Ms|Dr|Prof|St|Mt|Ft|Jr|Sr|Rev|Gen|Gov|Sen|Rep|Lt|Col|Sgt|Capt|Jan|Feb|Mar"
    r"|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|U\.S|U\.K|U\.N|E\.U|av|avg|ref|refs|resp|incl|esp"
    r"|gen|nov|sp|spp|subsp|var)\.$"
    r"|\b[A-Z][a-z]+ [A-Z]\.$|(?:^|[\s(“‘])(?:[A-Z]\.){2,3}$"
)
_BEFORE_NUMBER = re.compile(r"(?:^|[\s(])[cpv]\.$")  # circa, page, version: "c. 1455", "v. 2.0"
_SMALL = r"(?:a|an|and|by|for|in|of|on|or|the|to|with)\s+"
_RUN_IN = re.compile(
    rf"(?:{_NUMBER.pattern}\s+)?[A-Z0-9][\w'&/-]*(?:\s+(?:{_SMALL})?[A-Z0-9][\w'&/-]*){{0,5}}[.:]"
)
# a short reply is a sentence of its own, not a heading: "Absolutely.", "Thanks Evan."
_REPLY = re.compile(
    r"(?:thanks?|thank\s+you|bye|goodbye|yes|yeah|yep|no|nope|absolutely|definitely|sure|great|"
    r"congrats|congratulations|wow|ok|okay|hi|hello|hey|sorry|cool|nice|awesome|amazing|right|"
    r"exactly|totally|indeed|agreed|true|perfect|wonderful|good|well|oh|ah|cheers|welcome|"
    r"certainly|of\s+course|me\s+too|same)\b",
    re.IGNORECASE,
)
_ITEM = re.compile(rf"[-*#{BULLETS}]|\(?\w{{1,3}}[.)](?:\s|$)")
_RULE = re.compile(r"^[ \t]*([=*_~-])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)  # "=====", "* * *"


def _joined(piece: str, after: str) -> bool:
    """Whether ``piece`` runs on into ``after`` although the regex split them (see above)."""
    bare = piece.rstrip("\"'”’")  # "the “U.S.” Army": the quote closes no sentence
    if _NUMBER.fullmatch(piece) or _ABBREV.search(bare):
        return True
    if _BEFORE_NUMBER.search(piece):
        return after[:1].isdigit()
    if not _RUN_IN.fullmatch(piece) or _REPLY.match(piece) or _ITEM.match(after):
        return False
    return len(after.split()) >= max(4, len(piece.split()))  # a heading leads a longer sentence


def split_sentences(text: str) -> list[str]:
    """Sentences (and list items / paragraphs) of ``text``, stripped, empty ones dropped.

    Within a paragraph, a section number, an initial, an abbreviation or a run-in heading
    stays with the sentence after it: "6. Trademarks. This License does not grant…" is one
    sentence, not three."""
    out: list[str] = []
    start, glue = 0, False
    text = _RULE.sub("", plain(text))  # an underline or a rule leaves a blank line: a break
    for m in [*_SENTENCE.finditer(text), None]:
        piece = _HEADING.sub("", " ".join((text[start : m.start()] if m else text[start:]).split()))
        if not any(c.isalnum() for c in piece):  # punctuation alone is no sentence
            piece = ""
        elif glue and _joined(out[-1], piece):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
        if m:
            glue = bool(out) and (glue or bool(piece)) and "\n\n" not in _WS.sub("", m.group(0))
            start = m.end()
    return out


def sentence_scores(query: str, sentences: list[str]) -> list[float]:
    """How much of the query each sentence covers (distinct query terms found, 0..1)."""
    q = set(terms(query))
    if not q:
        return [0.0] * len(sentences)
    return [len(q & set(terms(s))) / len(q) for s in sentences]


def best_sentence(query: str, text: str) -> str:
    """The sentence of ``text`` that covers the query best (the first on ties)."""
    sentences = split_sentences(text) or [text.strip()]
    scores = sentence_scores(query, sentences)
    return sentences[max(range(len(sentences)), key=lambda i: (scores[i], -i))]


_MONTH = "January|February|March|April|May|June|July|August|September|October|November|December"
_ANSWER_TYPES = [  # question opening → what an answer sentence should contain
    (re.compile(r"^\s*when\b", re.I), re.compile(rf"\b(1[5-9]\d\d|20\d\d|{_MONTH})\b|\d:\d\d")),
    (
        re.compile(r"^\s*how (many|much|long|old|far|fast|often|big|heavy)\b", re.I),
        re.compile(r"\d"),
    ),
    (re.compile(r"^\s*(who|whom|whose)\b", re.I), re.compile(r"\b[A-Z][a-z]+ [A-Z][a-z]+")),
    (re.compile(r"^\s*where\b", re.I), re.compile(r"\b(in|at|to|from|room) [A-Z0-9]")),
]


def answer_sentence(query: str, text: str) -> str:
    """The sentence of ``text`` most likely to answer ``query`` (see ``answer_scores``)."""
    sentences = split_sentences(text) or [text.strip()]
    scores = answer_scores(query, sentences)
    return sentences[max(range(len(sentences)), key=lambda i: (scores[i], -i))]


def answer_scores(query: str, sentences: list[str]) -> list[float]:
    """How likely each sentence answers ``query``: it covers the query's terms, adds
    something the query does not already say (a heading that merely repeats the question
    is no answer), and holds the kind of thing asked for (a date for *when*, a number for
    *how many*, a name for *who*, the term's definition for *what is a …*)."""
    q = set(terms(query))
    core = question_core(query)
    want = next((ans for ask, ans in _ANSWER_TYPES if ask.search(core)), None)
    term = defined_term(query)

    def score(sentence: str) -> float:
        st = set(terms(sentence))
        value = len(q & st) / len(q) if q else 0.0
        value += 0.25 if st - q else -0.5
        if want is not None and any(
            m.group(0).lower() not in query.lower() for m in want.finditer(sentence)
        ):
            value += 0.5  # holds the asked-for kind of thing, and not just the query's own
        if term is not None and defines(sentence, term):
            value += 0.5  # opens with the term the question asks the meaning of
        return value

    return [score(s) for s in sentences]


def query_view(query: str, text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """A short view of ``text`` for the model: its most query-relevant sentences.

    Sentences are taken best first (ties: earlier first) while they fit in
    ``max_tokens`` (by ``count``) and shown in their original order. A text that
    fits is returned whole; a single over-long sentence is cut by words.
    """
    text = _WS.sub(" ", text).strip()
    if count(text) <= max_tokens:
        return text
    sentences = split_sentences(text) or [text]
    scores = sentence_scores(query, sentences)
    order = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    picked: list[int] = []
    used = 0
    for i in order:
        n = count(sentences[i]) + 1
        if used + n <= max_tokens:
            picked.append(i)
            used += n
    if not picked:
        return _cut_words(sentences[order[0]], max_tokens, count)
    return _join([sentences[i] for i in sorted(picked)])


def windows(text: str, max_tokens: int, count: Callable[[str], int]) -> list[str]:
    """The views of ``text`` that do not depend on the question: ``text`` whole if it fits in
    ``max_tokens``; else, from each sentence on, as many whole sentences as fit (a sentence
    too long alone cut by words). Kept in the view cache, they serve every later question."""
    return [w for w, _ in _windows(text, max_tokens, count)[0]]


def window_view(query: str, text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """The window of ``text`` (``windows``) whose sentences cover the query best: the sum of
    their ``sentence_scores`` (ties: the earlier window)."""
    found, sentences = _windows(text, max_tokens, count)
    if len(found) == 1:
        return found[0][0]
    scores = sentence_scores(query, sentences)
    sums = [sum(scores[a:b]) for _, (a, b) in found]
    return found[max(range(len(found)), key=lambda i: (sums[i], -i))][0]


def _windows(
    text: str, max_tokens: int, count: Callable[[str], int]
) -> tuple[list[tuple[str, tuple[int, int]]], list[str]]:
    """``windows`` with each one's sentence range ``[a, b)`` (a window inside the one before
    it is left out), and the sentences they index (none where ``text`` fits whole)."""
    text = _WS.sub(" ", text).strip()
    if count(text) <= max_tokens:
        return [(text, (0, 1))], []
    sentences = split_sentences(text) or [text]  # markup alone is still what the chunk shows
    sizes = [count(s) + 1 for s in sentences]
    out: list[tuple[str, tuple[int, int]]] = []
    end = 0
    for i in range(len(sentences)):
        j, used = i, 0
        while j < len(sentences) and used + sizes[j] <= max_tokens:
            used, j = used + sizes[j], j + 1
        if j == i:  # one sentence longer than a view
            out.append((_cut_words(sentences[i], max_tokens, count), (i, i + 1)))
            end = i + 1
        elif j > end:
            out.append((_join(sentences[i:j]), (i, j)))
            end = j
    return out, sentences


def _join(sentences: list[str]) -> str:
    """Sentences back into text; a heading or list item (no end mark) keeps its own
    paragraph, so it is never read as the start of the sentence after it."""
    out = [s + (" " if s[-1] in ".!?\"')" else "\n\n") for s in sentences]
    return "".join(out).strip()


def _cut_words(sentence: str, max_tokens: int, count: Callable[[str], int]) -> str:
    words = sentence.split()
    lo, hi = 1, len(words)
    while lo < hi:  # the longest prefix of words that fits
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])
