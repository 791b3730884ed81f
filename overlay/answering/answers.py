"""Answers from chosen candidates only: extractive (``choose``) or grounded (``generate``).

``generate`` numbers the chosen candidates in a prompt (system instruction,
session facts and recent turns when given, the passages, the question) kept
inside a token budget measured with the model's own tokenizer, and asks the
model to cite them as [1], [2]. Citations to numbers that were not given are
removed from the text; the ones left map back to candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from overlay.answering.gate import SentenceGate
from overlay.answering.spans import one_sentence_support
from overlay.choosing.views import answer_sentence, terms
from overlay.model.decode import Decoded, Decoding, OnText, decode

ABSTAIN_TEXT = "I don't know: the documents I have do not contain the answer to that."
SYSTEM = (
    "You answer questions using only the numbered passages. Cite the passages you use "
    "like [1]. If the passages do not contain the answer, say you don't know."
)
_CITE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_MIN_PASSAGE_TOKENS = 24


@dataclass
class PromptContext:
    """What session memory adds to a prompt: facts the user stated and recent turns."""

    facts: list[str] = field(default_factory=list)
    turns: list[tuple[str, str]] = field(default_factory=list)  # (role, content), oldest first


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
    return Draft(f"{answer_sentence(query, passages[0])} [1]", [1], len(passages))


def _count(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _truncate(tokenizer: Any, text: str, n: int) -> str:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:n]
    return str(tokenizer.decode(ids)).strip() + " …"


def _user_message(query: str, blocks: Sequence[str], context: PromptContext) -> str:
    parts = []
    if context.facts:
        parts.append("Facts the user told you:\n" + "\n".join(f"- {f}" for f in context.facts))
    parts.append("Passages:\n" + "\n".join(blocks))
    parts.append(f"Question: {query}")
    return "\n\n".join(parts)


def _render(tokenizer: Any, query: str, blocks: Sequence[str], ctx: PromptContext) -> str:
    messages = [{"role": "system", "content": SYSTEM}]
    messages += [{"role": r, "content": c} for r, c in ctx.turns]
    messages.append({"role": "user", "content": _user_message(query, blocks, ctx)})
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def build_prompt(
    tokenizer: Any,
    query: str,
    passages: Sequence[str],
    context: PromptContext | None = None,
    budget: int = 1536,
) -> tuple[str, int]:
    """The chat prompt and how many passages it holds, within ``budget`` tokens.

    Older turns go first when over budget, then passages are added best first,
    the last one shortened if that lets it fit.
    """
    ctx = PromptContext(list((context or PromptContext()).facts), [])
    turns = list((context or PromptContext()).turns)
    while (
        turns
        and _count(tokenizer, _render(tokenizer, query, [], PromptContext(ctx.facts, turns)))
        > budget // 2
    ):
        turns.pop(0)
    ctx.turns = turns
    left = budget - _count(tokenizer, _render(tokenizer, query, [], ctx))
    blocks: list[str] = []
    for passage in passages:
        block = f"[{len(blocks) + 1}] {' '.join(passage.split())}"
        cost = _count(tokenizer, block) + 1
        if cost > left:
            if left >= _MIN_PASSAGE_TOKENS:
                blocks.append(_truncate(tokenizer, block, left - 2))
            break
        blocks.append(block)
        left -= cost
    return _render(tokenizer, query, blocks, ctx), len(blocks)


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
    budget: int = 1536,
    params: Decoding | None = None,
    on_text: OnText | None = None,
) -> Draft:
    """Generate an answer from numbered passages, checked sentence by sentence.

    A small model drifts: each generated sentence must be supported by ONE sentence of
    the passages (``supported``); the answer is the supported sentences up to the first
    that is not, each handed to ``on_text`` once it passed. With none, the extractive
    answer replaces it (kind ``fallback``). An answer that cites nothing is attributed to
    the passage it overlaps most.
    """
    prompt, given = build_prompt(tokenizer, query, passages, context, budget)
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
        return Draft(fallback.text, fallback.cited, fallback.given, "fallback", *used)
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
