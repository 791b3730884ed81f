"""The default answer: the reader adapter's short span of the best sentence, checked.

sentence candidates (best first) ─► window (the sentence ± 1)
   ─► the judge adapter (``answer.reader_judge``, reader-strict) shown the same prompt: its
      "none" more probable than ``answer.reader_no_answer``? the window does not answer (every
      window read: "I don't know")
   ─► reader adapter, greedy
   ─► ``find_span``: a normalised span of ONE sentence of the window? ─► the sentence's own
      words, cited (kind ``span``)
   ─► the first span is confident (its mean log-prob per token ≥ ``confident``)? done;
      else up to ``tries`` sentences are read (a window already read is not read again)
      and the span with the best ``sentence score + weight · confidence`` wins
   ─► no exact span, but the reader copied loosely ("the Work is terminated as of the date
      such litigation is filed"): the closest run of one sentence (``near_span``), the same way
   ─► no span at all (or one that only repeats what scopes the question: "Which court …
      under the Mozilla Public License?" is not answered "Mozilla Public License"): the best
      sentence itself, cited (kind ``fallback``).

The reader's confidence and its weight were fitted on the development articles only
(``scripts/reader_data.py``'s split): on 136 dev questions, reading the best 3 sentences
and weighing confidence in raised answer F1 from 0.536 to 0.595, with the same first
citation; stopping at a confident first span (-0.2 nats a token) kept 0.595 at 2.0 reads
a question instead of 3. Since the sentences are ordered by the chooser's evidence and the
answer-kind cues, reading only the best one is as good: replayed over every read of the top 5
windows of 249 development questions (SQuAD DEV articles, TAT-QA DEV reports, PolicyQA
``dev.json``), span F1 0.521 → 0.540 (SQuAD), 0.541 → 0.557 (TAT-QA), 0.199 → 0.199
(PolicyQA) with one read instead of up to three; ``answer.reader_tries`` is 1 by default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from overlay.answering.answers import ABSTAIN_TEXT, Draft
from overlay.answering.spans import (
    CLOSES,
    NO_ANSWER,
    find_span,
    near_span,
    normalize,
    reader_messages,
    window,
)
from overlay.answering.whole import whole_amount, whole_bound, whole_date
from overlay.answering.widening import after_sentence, asks, whole_sentence
from overlay.choosing.fusion import Choice
from overlay.choosing.questions import question_scope
from overlay.choosing.sentences import SentenceCandidate
from overlay.choosing.views import terms
from overlay.knobs import AnswerSettings
from overlay.model.decode import Decoding, decode

_ANSWER = AnswerSettings()  # the defaults are the settings' (overlay/knobs.py), never a copy
READER_DECODING = Decoding(max_new_tokens=24, repetition_penalty=1.0)
NEAR = 0.5  # a loosely copied span counts at this token F1 (``near_span``'s, as for memory)
_PAIRS = {close: open_ for open_, close in CLOSES.items()}  # the brackets a span keeps paired
# a judge: the probability that a reader prompt's window does not answer, and the tokens read
Judge = Callable[[list[int]], tuple[float, int]]


def tidy(span: str) -> str:
    """``span`` without markup around it or a bracket its cut left unmatched: "*thread*" →
    "thread", "``PYTEST_TIMEOUT``" → "PYTEST_TIMEOUT", "0.1] seconds" (of "[default: 0.1]
    seconds") → "0.1 seconds", "under “Segment Results" → "under Segment Results"."""
    while len(span) > 2 and span[0] == span[-1] and span[0] in "*_`":
        span = span[1:-1]
    opened: list[int] = []
    drop: set[int] = set()
    for i, ch in enumerate(span):
        if ch in CLOSES:
            opened.append(i)
        elif ch in _PAIRS:
            if opened and span[opened[-1]] == _PAIRS[ch]:
                opened.pop()
            else:
                drop.add(i)
    drop.update(opened)
    if not drop:
        return span
    return " ".join("".join(c for i, c in enumerate(span) if i not in drop).split()) or span


def reader_prompt(tokenizer: Any, question: str, passage: str) -> list[int]:
    """Token ids of the reader's chat prompt (the generation prompt added)."""
    text = tokenizer.apply_chat_template(
        reader_messages(passage, question), tokenize=False, add_generation_prompt=True
    )
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def read_span(
    model: Any,
    tokenizer: Any,
    question: str,
    ranked: Sequence[SentenceCandidate],
    sentences: Sequence[Sequence[str]],
    *,
    tries: int = _ANSWER.reader_tries,
    confident: float = _ANSWER.reader_confident,
    weight: float = _ANSWER.reader_weight,
    no_answer: float = _ANSWER.reader_no_answer,
    params: Decoding | None = None,
    judge: Judge | None = None,
) -> Draft:
    """Answer ``question`` with a span read from the best sentences (see the module docstring).

    ``ranked``: sentence candidates best first; ``sentences``: each passage's sentences (a
    candidate's ``passage`` and ``index`` point into them). ``model`` wears the reader. A
    window whose no-answer reply is more probable than ``no_answer``, by the reader itself or
    by ``judge`` (another adapter shown the same prompt, asked before the reader decodes),
    gives no span; when every window read is such, the answer is "I don't know" (kind
    ``abstained``)."""
    if not ranked:
        raise ValueError("no sentence to read")
    p = params or READER_DECODING
    none = no_answer_id(tokenizer)
    read = generated = nulls = 0
    found: list[tuple[float, SentenceCandidate, str, str, int]] = []  # key, cand, span, end, at
    loose: list[tuple[float, SentenceCandidate, str, str, int]] = []  # copied loosely
    seen: set[tuple[str, ...]] = set()
    scope = set(normalize(question_scope(question)).split())
    for i, cand in enumerate(ranked[:tries]):
        shown = window(sentences[cand.passage], cand.index)
        if tuple(shown) in seen:
            continue  # the same window, read greedily again, would give the same span
        seen.add(tuple(shown))
        ids = reader_prompt(tokenizer, question, " ".join(shown))
        if judge is not None:
            p_none, judged = judge(ids)
            read += judged
            if p_none > no_answer:
                nulls += 1
                continue  # the judge says this window does not answer
        out = decode(model, tokenizer, ids, p, watch=(none,) if none is not None else ())
        read, generated = read + out.prompt_tokens, generated + len(out.token_ids)
        if none is not None and math.exp(out.watched.get(none, -math.inf)) > no_answer:
            nulls += 1
            continue  # the reader says this window does not answer
        if none is not None and normalize(out.text) == NO_ANSWER:  # said, but not surely
            out = decode(model, tokenizer, ids, p, allowed=_first_not(none, len(tokenizer)))
            generated += len(out.token_ids)
        span = find_span(out.text, shown)
        got = span or near_span(out.text, shown, NEAR)
        if got is None or set(normalize(got.text).split()) <= scope:
            continue  # no span, or one that only repeats what scopes the question
        said = shown[got.sentence]
        if _section_number(got.text, said) or _points_back(got.text, question) or asks(said):
            continue  # "3.3" of "3.3 Invoking …" numbers a section; "This lint" names nothing
        confidence = out.logprob / (len(out.token_ids) + 1)  # the end token counts
        key = cand.score + weight * confidence
        found_in = found if span is not None else loose
        at = max(0, cand.index - 1) + got.sentence  # the span's sentence in its passage
        found_in.append((key, cand, got.text, out.finish_reason, at))
        if i == 0 and span is not None and confidence >= confident:
            break
    if found or loose:
        _, cand, text, finish, at = max(found or loose, key=lambda f: f[0])
        own = sentences[cand.passage]
        whole = whole_bound(whole_amount(text, own[at]), own[at])
        text, n = tidy(whole_date(whole, own[at], question)), cand.passage + 1
        return Draft(f"{text} [{n}]", [n], 0, "span", read, generated, finish, own[at],
                     after_sentence(own, at))  # fmt: skip
    if nulls and nulls == len(seen):
        return Draft(ABSTAIN_TEXT, [], 0, "abstained", read, generated, why="judged")
    top = ranked[0]
    follow = after_sentence(sentences[top.passage], top.index)
    draft = Draft("", [top.passage + 1], 0, "fallback", read, generated, sentence=top.text,
                  follow=follow)  # fmt: skip
    return replace(draft, text=f"{whole_sentence(draft)} [{top.passage + 1}]")


def no_answer_id(tokenizer: Any) -> int | None:
    """The token of the reader's no-answer reply (None where it is not one token)."""
    ids = tokenizer(NO_ANSWER, add_special_tokens=False)["input_ids"]
    if len(ids) != 1 or tokenizer.decode(ids).strip() != NO_ANSWER:
        return None  # not one token, or an unknown word's
    return int(ids[0])


def judge_of(answer: AnswerSettings) -> str | None:
    """The adapter that judges the reader's windows (``answer.reader_judge``), or None: none
    set, or the reader itself (its own no-answer reply is listened to)."""
    judge = answer.reader_judge
    return judge if judge and judge != answer.reader_adapter else None


def judge_window(model: Any, tokenizer: Any, ids: list[int]) -> tuple[float, int]:
    """A judge's verdict on a reader prompt: the probability of ``model``'s no-answer reply as
    its first token (0 where that reply is no one token) and the prompt tokens it read. As
    the reader decodes (no repetition penalty: one would make the passage's words, the
    answers, less likely and the no-answer reply more)."""
    none = no_answer_id(tokenizer)
    if none is None:
        return 0.0, 0
    out = decode(model, tokenizer, ids, replace(READER_DECODING, max_new_tokens=1), watch=(none,))
    return math.exp(out.watched.get(none, -math.inf)), out.prompt_tokens


def _first_not(token: int, vocab: int) -> Any:
    """An ``allowed`` rule for ``decode``: any token but ``token`` first, then any."""
    others = [t for t in range(vocab) if t != token]
    return lambda ids: None if ids else others


_SECTION = re.compile(r"\(?\d{1,3}(?:\.\d{1,3})*[.)]?")


def _section_number(span: str, sentence: str) -> bool:
    """Whether ``span`` is only the number that opens ``sentence`` as a section's or a list
    item's ("3.3 Invoking asn1Decoding …", "6. Trademarks. …")."""
    span = span.strip()
    return (
        bool(_SECTION.fullmatch(span))
        and re.match(rf"\s*{re.escape(span)}\.?\s+[A-Z(\"“]", sentence) is not None
    )


_POINTER = re.compile(r"(?:this|that|these|those|it|its|they|their|such|the same)\b", re.I)


def _points_back(span: str, question: str) -> bool:
    """Whether ``span`` only points at something named elsewhere: it opens with "this",
    "these", "it"… and holds no term the question lacks ("Which lint warns about broken
    intra-doc links?" is not answered "This lint")."""
    return _POINTER.match(span) is not None and set(terms(span)) <= set(terms(question))


def read_answer(choice: Choice) -> Draft:
    """Span read mode: the span the reader read in the best chosen candidate that has one
    (chosen order already weighs the span's evidence), cited; else that candidate's best
    sentence as the reader saw it (kind ``fallback``)."""
    for n, c in enumerate(choice.chosen, 1):
        read = choice.reads.get(c.hit.id)
        if read is not None:
            kind = "sentence" if read.text == read.sentence else "span"
            given = len(choice.chosen)
            return Draft(f"{read.text} [{n}]", [n], given, kind, sentence=read.sentence)
    top = choice.chosen[0]
    return Draft(f"{top.hit.text.strip()} [1]", [1], len(choice.chosen), "fallback")


def lead_citation(choice: Choice, draft: Draft) -> Draft:
    """A one-citation draft whose passage becomes the first chosen, cited as [1], so the
    marker matches the citations returned (numbered 1..k in the order shown)."""
    if len(draft.cited) != 1 or draft.cited[0] == 1:
        return draft
    n = draft.cited[0]
    choice.chosen.insert(0, choice.chosen.pop(n - 1))
    text = draft.text.replace(f"[{n}]", "[1]")
    return replace(draft, text=text, cited=[1])
