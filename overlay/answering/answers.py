"""Answers from chosen candidates only: extractive (``choose``) or grounded (``generate``).

``generate`` numbers the chosen candidates in a prompt (system instruction,
session facts and turns when given, the passages, the question) fitted once into
a token budget by ``prompt.build_context`` (``services.count_tokens``), and asks the
model to cite them as [1], [2]. Citations to numbers that were not given are
removed from the text; the ones left map back to candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from memory.types import Hit
from overlay.answering.gate import SentenceGate
from overlay.answering.prompt import Count, build_context
from overlay.answering.spans import one_sentence_support
from overlay.choosing.views import answer_sentence, terms
from overlay.knobs import AnswerSettings
from overlay.model.decode import Decoded, Decoding, OnText, decode

_ANSWER = AnswerSettings()  # the defaults are the settings' (overlay/knobs.py), never a copy
ABSTAIN_TEXT = "I don't know: the documents I have do not contain the answer to that."
SYSTEM = (
    "You answer questions using only the numbered passages. Cite the passages you use "
    "like [1]. If the passages do not contain the answer, say you don't know."
)
_CITE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_TEMPLATE_TOKENS = 16  # the chat template's own tokens around the messages


@dataclass
class PromptContext:
    """What session memory adds to a prompt: facts the user stated and recent turns."""

    facts: list[str] = field(default_factory=list)
    turns: list[tuple[str, str]] = field(default_factory=list)  # (role, content), oldest first
    instructions: str = ""  # the client's system message: appended to ours, never replacing it
    memories: list[Hit] = field(default_factory=list)  # relevant earlier turns


@dataclass
class Draft:
    """Answer text and the 1-based numbers of the passages it cites."""

    text: str
    cited: list[int]
    given: int = 0  # how many passages the model was shown
    kind: str = "sentence"  # "span" | "sentence" | "generated" | "fallback" | "abstained"
    prompt_tokens: int = 0  # tokens the model read to write it (0: nothing generated)
    completion_tokens: int = 0  # tokens the model generated
    finish_reason: str = "stop"  # "stop" | "length"
    sentence: str = ""  # a span's whole sentence (read mode), for widening
    follow: str = ""  # the sentence after it in its passage: what a sentence ending in ":" shows
    why: str = ""  # why it abstains (``overlay.record.ABSTENTIONS``); "" when it answers


def clean_citations(text: str, given: int) -> tuple[str, list[int]]:
    """Drop citations outside 1..given; returns the text and the cited numbers in order."""
    cited: list[int] = []

    def keep(match: re.Match[str]) -> str:
        nums = [int(n) for n in re.split(r"[,;]", match.group(1))]
        valid = [n for n in nums if 1 <= n <= given]
        cited.extend(n for n in valid if n not in cited)
        return "".join(f"[{n}]" for n in valid)

    out = _CITE.sub(keep, text)
    out = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", out)).strip()
    return out, cited


def extractive(query: str, passages: Sequence[str]) -> Draft:
    """The sentence of the top passage that best answers the query, cited; nothing generated."""
    sentence = answer_sentence(query, passages[0])
    return Draft(f"{sentence} [1]", [1], len(passages), sentence=sentence)


def build_prompt(
    count: Count,
    tokenizer: Any,
    query: str,
    passages: Sequence[str],
    context: PromptContext | None = None,
    budget: int = _ANSWER.context_budget,
) -> tuple[str, int]:
    """The chat prompt and how many passages it holds, within ``budget`` tokens by ``count``.

    The one prompt builder: ``prompt.build_context`` fits the system prompt, the question,
    the session's facts, relevant earlier turns, recent turns (up to half of what is left)
    and the passages, best first, the last one cut to fit — once per turn.
    """
    ctx = context or PromptContext()
    docs = [Hit(str(i), " ".join(p.split()), 0.0) for i, p in enumerate(passages, 1)]
    recent = [{"role": r, "content": c} for r, c in ctx.turns]
    fitted = build_context(
        count, budget - _TEMPLATE_TOKENS, system=_system(ctx.instructions), question=query,
        facts=ctx.facts, memories=ctx.memories, recent=recent, documents=docs,
    )  # fmt: skip
    text = tokenizer.apply_chat_template(
        fitted.messages(), tokenize=False, add_generation_prompt=True
    )
    return str(text), len(fitted.documents)


def _system(instructions: str) -> str:
    """Our grounding rules, then the client's own instructions (never replacing ours)."""
    return f"{SYSTEM}\n\n{instructions}" if instructions.strip() else SYSTEM


def generate(
    model: Any,
    tokenizer: Any,
    prompt: str,
    params: Decoding | None = None,
    on_text: OnText | None = None,
) -> Decoded:
    """Decode after ``prompt`` (already chat-formatted); greedy unless ``params`` say otherwise."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return decode(model, tokenizer, list(ids), params or Decoding(), on_text=on_text)


def grounded(
    model: Any,
    tokenizer: Any,
    query: str,
    passages: Sequence[str],
    *,
    context: PromptContext | None = None,
    budget: int = _ANSWER.context_budget,
    params: Decoding | None = None,
    on_text: OnText | None = None,
    count: Count | None = None,
) -> Draft:
    """Generate an answer from numbered passages, checked sentence by sentence.

    A small model drifts: each generated sentence must be supported by ONE sentence of
    the passages (``supported``); the answer is the supported sentences up to the first
    that is not, each handed to ``on_text`` once it passed. With none, the extractive
    answer replaces it (kind ``fallback``). An answer that cites nothing is attributed to
    the passage it overlaps most.
    """
    count = count or (lambda t: len(tokenizer(t, add_special_tokens=False)["input_ids"]))
    prompt, given = build_prompt(count, tokenizer, query, passages, context, budget)
    shown = passages[:given]
    gate = SentenceGate(
        lambda s: supported(s, query, shown), lambda s: clean_citations(s, given)[0], on_text
    )
    out = generate(model, tokenizer, prompt, params, on_text=gate)
    text = gate.finish()
    _, cited = clean_citations(text, given)
    used = (out.prompt_tokens, len(out.token_ids))
    if not given or not text:
        fallback = extractive(query, passages)
        gate.send(fallback.text)
        return replace(fallback, kind="fallback", prompt_tokens=used[0], completion_tokens=used[1])
    if not cited:
        best = max(range(given), key=lambda i: _overlap(text, shown[i]))
        text, cited = f"{text.rstrip()} [{best + 1}]", [best + 1]
        gate.send(f" [{best + 1}]")
    return Draft(text, cited, given, "generated", *used, out.finish_reason)


def supported(answer: str, query: str, passages: Sequence[str], min_share: float = 0.75) -> bool:
    """Whether ``answer`` stays within the passages: each of its sentences takes its numbers
    and at least ``min_share`` of its other content words from ONE sentence of the passages
    (or the question) — see ``spans.one_sentence_support``."""
    return one_sentence_support(answer, query, passages, min_share)


def _overlap(text: str, passage: str) -> int:
    return len(set(terms(text)) & set(terms(passage)))
