"""Short answers that are spans of the chosen text, and the one-sentence grounding rule.

The reader adapter (``overlay/builtin_adapters/reader``) answers with a short phrase copied
from a passage. A small model sometimes copies loosely, so its answer is checked after
decoding: it must be a span of ONE sentence of the passage after SQuAD normalisation (lower
case, no punctuation, no articles). A passing answer is returned as the sentence's own words
(original spelling and case), so the text shown is the passage's, by construction.

DESIGN.md measured why the check is post-hoc: constraining each decoded token to continue a
span (naive token matching) lowered the reader's F1 from 0.535 to 0.379, because a span's
tokens inside a passage differ from the span's tokens alone.
"""

from __future__ import annotations

import os
import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from overlay.choosing.views import split_sentences, terms

# the reader's prompt: a copy of scripts/reader_prompt.py, the contract with its training data
READER_PROMPT = (
    "Passage: {passage}\nQuestion: {question}\n"
    "Answer with the shortest phrase copied from the passage."
)
NO_ANSWER = "none"  # the reader's reply when the passage does not answer (the same contract)
_PUNCT = set(string.punctuation)  # SQuAD's official scoring drops ASCII punctuation only
_ARTICLES = {"a", "an", "the"}
_WORD = re.compile(r"\S+")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_EDGE = " ,;:.!?\"'()[]“”‘’«»„"  # stripped from a span's ends
_CITE = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")


def reader_messages(passage: str, question: str) -> list[dict[str, str]]:
    """Chat messages asking the reader adapter for the answer span (add the generation prompt)."""
    text = READER_PROMPT.format(passage=" ".join(passage.split()), question=question.strip())
    return [{"role": "user", "content": text}]


def squad_normalize(text: str) -> str:
    """SQuAD's official normalisation, for scoring: lower case, no ASCII punctuation, no
    articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(w for w in text.split() if w not in _ARTICLES)


def normalize(text: str) -> str:
    """SQuAD normalisation for matching: as ``squad_normalize``, but any punctuation counts,
    not ASCII alone, so "“TZOO.”" and "Company’s" of a typeset document match "TZOO" and
    "Company's"."""
    text = "".join(
        ch for ch in text.lower() if ch not in _PUNCT and unicodedata.category(ch)[0] != "P"
    )
    return " ".join(w for w in text.split() if w not in _ARTICLES)


def _norm_word(word: str) -> str:
    return normalize(word)


@dataclass(frozen=True)
class Span:
    """An answer located in one sentence: its index and the sentence's own words."""

    sentence: int
    text: str
    match: float = 1.0  # token F1 with the words asked for (``near_span``; 1.0 when exact)


def _words(sentence: str) -> list[tuple[str, int, int]]:
    """The sentence's normalised words with their character offsets (articles and bare
    punctuation count for nothing)."""
    words = [(_norm_word(m.group(0)), m.start(), m.end()) for m in _WORD.finditer(sentence)]
    return [(part, s, e) for w, s, e in words if w for part in w.split()]


def find_span(answer: str, sentences: Sequence[str]) -> Span | None:
    """Where ``answer`` (normalised) is a run of whole words of ONE sentence, the first such
    sentence and its original words; ``None`` if no single sentence holds it."""
    want = normalize(answer).split()
    if not want:
        return None
    for i, sentence in enumerate(sentences):
        flat = _words(sentence)
        for j in range(len(flat) - len(want) + 1):
            if [p for p, _, _ in flat[j : j + len(want)]] == want:
                return Span(i, _edged(sentence[flat[j][1] : flat[j + len(want) - 1][2]]))
    return None


CLOSES = {"(": ")", "[": "]", "{": "}", "“": "”"}  # ’ closes nothing: it is an apostrophe too


def _edged(words: str) -> str:
    """A run of a sentence's words without the punctuation at its ends, but for the closing
    brackets and quotes of those it opens: "#[doc(hidden)]", not "#[doc(hidden"; 'under
    “Segment Results.”', not 'under “Segment Results'."""
    start = len(words) - len(words.lstrip(_EDGE))
    text = words.strip(_EDGE)
    rest = words[start + len(text) :]
    opened: list[str] = []
    for ch in text:
        if ch in CLOSES:
            opened.append(CLOSES[ch])
        elif opened and ch == opened[-1]:
            opened.pop()
    kept = 0  # how much of ``rest`` closes what ``text`` opened
    for i, ch in enumerate(rest):
        if opened and ch == opened[-1]:
            opened.pop()
            kept = i + 1
        elif not opened or ch not in ".,;:!?":  # a full stop may stand inside the quote it ends
            break
    return text + rest[:kept]


def _alike(a: str, b: str) -> bool:
    """Two normalised words alike: equal, or sharing a stem of at least 4 letters that is most
    of the shorter word ("raise"/"raising", "rose"/"roses", "vaccinated"/"vaccination")."""
    if a == b:
        return True
    n = len(os.path.commonprefix([a, b]))
    return n >= 4 and n >= 0.6 * min(len(a), len(b))


def near_span(answer: str, sentences: Sequence[str], least: float = 0.5) -> Span | None:
    """Where ``find_span`` finds nothing because the reader copied loosely ("to raise money for
    the kids' hospital" for "raising money for the kids' hospital"): the run of one sentence's
    words that best matches ``answer`` (token F1 over alike words, at least ``least``; the
    shortest run of the best; a run starts and ends on a content word), in the sentence's own
    words. ``None`` below ``least``."""
    want = normalize(answer).split()
    content = [w for w in want if terms(w)]  # a run starts and ends on one ("from" alone: no)
    if not content:
        return None
    best: tuple[tuple[float, int], Span | None] = ((round(least, 9), -(10**9)), None)
    for i, sentence in enumerate(sentences):
        flat = _words(sentence)
        useful = [any(_alike(p, w) for w in want) for p, _, _ in flat]
        ends = [j for j, (p, _, _) in enumerate(flat) if any(_alike(p, w) for w in content)]
        for a in ends:
            for b in (j for j in ends if a <= j < a + len(want) + 4):
                run = [p for p, _, _ in flat[a : b + 1]]
                precision = sum(useful[a : b + 1]) / len(run)
                recall = sum(any(_alike(w, p) for p in run) for w in want) / len(want)
                f1 = 2 * precision * recall / (precision + recall)
                if (key := (round(f1, 9), -len(run))) > best[0]:
                    text = _edged(sentence[flat[a][1] : flat[b][2]])
                    best = (key, Span(i, text, round(f1, 9)))
    return best[1]


def window(sentences: Sequence[str], center: int, before: int = 1, after: int = 1) -> list[str]:
    """The sentence at ``center`` with up to ``before``/``after`` neighbours (the reader was
    trained on such windows)."""
    return list(sentences[max(0, center - before) : center + after + 1])


def one_sentence_support(
    answer: str, query: str, passages: Sequence[str], min_share: float = 0.75
) -> bool:
    """The stricter grounding rule: every sentence of ``answer`` (citations stripped) is
    supported by ONE sentence of ``passages`` — all its numbers occur in that sentence and at
    least ``min_share`` of its other content words come from that sentence or the question.

    "The WHO declared the end of the PHEIC on January 31, 2020" fails against a sentence
    saying the emergency was declared on 30 January 2020 (31 is not there), even though
    other sentences of the passages may hold "31" or "end"."""
    claims = split_sentences(_CITE.sub(" ", answer))
    if not claims or not any(terms(c) for c in claims):
        return False
    sources = [s for p in passages for s in split_sentences(p)]
    asked = set(terms(query))
    return all(_claim_supported(c, sources, asked, min_share) for c in claims if terms(c))


def _claim_supported(claim: str, sources: Sequence[str], asked: set[str], share: float) -> bool:
    numbers = _NUMBER.findall(claim)
    words = [t for t in terms(claim) if not _NUMBER.fullmatch(t)]
    for source in sources:
        if any(
            not re.search(rf"(?<![\d.,:]){re.escape(n)}(?![\d]|[.,:]\d)", source) for n in numbers
        ):
            continue
        known = set(terms(source)) | asked
        if not words or sum(t in known for t in words) / len(words) >= share:
            return True
    return False


_TOKEN = re.compile(r"\w+")
_ENDS = ".!?:;\"'”’)]"  # what may close a quoted sentence after its last word


def quote_in(sentence: str, text: str) -> str:
    """``sentence`` (as split and read, markup out) as ``text`` writes it: the passage's own
    characters from its first word to its last, its closing punctuation with it, found whatever
    lies between the words ("**NOT**", a line break); "" where the passage does not hold it."""
    words = _TOKEN.findall(sentence)
    if not words or len(words) > 400:
        return ""
    pattern = r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)"
    found = re.search(pattern, text) or re.search(pattern, text, re.IGNORECASE)
    if found is None:
        return ""
    end = found.end()
    while end < len(text) and text[end] in _ENDS and end - found.end() < 3:
        end += 1
    return text[found.start() : end]
