"""Token-by-token decoding with the prompt's KV cache kept: greedy or sampled, stop strings,
a token budget, text handed out as it is produced (``on_text``), and an optional constraint
(``allowed``) on the next token.

Greedy decoding with ``repetition_penalty`` gives the same tokens as transformers'
``generate(do_sample=False, repetition_penalty=…)`` (tested).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

OnText = Callable[[str], None]
Allowed = Callable[[list[int]], Sequence[int] | None]  # generated so far → allowed next ids


@dataclass
class Decoding:
    """How to decode: the knobs an OpenAI client may set, plus the repetition penalty."""

    max_new_tokens: int = 96
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    repetition_penalty: float = 1.1


@dataclass
class Decoded:
    """What decoding produced and why it ended."""

    text: str
    token_ids: list[int] = field(default_factory=list)
    finish_reason: str = "stop"  # "stop" (end of answer or a stop string) | "length"
    prompt_tokens: int = 0
    first_token_s: float | None = None  # seconds from the call to the first token


def decode(
    model: Any,
    tokenizer: Any,
    prompt_ids: list[int],
    params: Decoding | None = None,
    on_text: OnText | None = None,
    allowed: Allowed | None = None,
) -> Decoded:
    """Decode after ``prompt_ids`` (already chat-formatted); see the module docstring."""
    import torch

    p = params or Decoding()
    start = time.perf_counter()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(p.seed) if p.seed is not None else None
    eos = _eos_ids(tokenizer)
    seen = torch.tensor(prompt_ids, dtype=torch.long)
    out = model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
    ids: list[int] = []
    emitted, first, finish = "", None, "length"
    for _ in range(p.max_new_tokens):
        logits = out.logits[0, -1].float().cpu()  # (vocab,)
        logits = _penalise(logits, seen, p.repetition_penalty)
        if allowed is not None:
            logits = _restrict(logits, allowed(ids))
        nxt = _pick(logits, p, gen)
        if first is None:
            first = time.perf_counter() - start
        if nxt in eos:
            finish = "stop"
            break
        ids.append(nxt)
        seen = torch.cat([seen, torch.tensor([nxt])])
        text = tokenizer.decode(ids, skip_special_tokens=True)
        cut = _stop_at(text, p.stop)
        if cut is not None:
            text, finish = text[:cut], "stop"
        if on_text is not None and not text.endswith("\ufffd") and len(text) > len(emitted):
            on_text(text[len(emitted) :])
            emitted = text
        if cut is not None:
            break
        out = model(
            input_ids=torch.tensor([[nxt]], device=device),
            past_key_values=out.past_key_values,
            use_cache=True,
        )
    final = _stop_text(tokenizer.decode(ids, skip_special_tokens=True), p.stop)
    if on_text is not None and len(final) > len(emitted) and final.startswith(emitted):
        on_text(final[len(emitted) :])
    return Decoded(final.strip(), ids, finish, len(prompt_ids), first)


def _eos_ids(tokenizer: Any) -> set[int]:
    eos = tokenizer.eos_token_id
    return set(eos) if isinstance(eos, list) else {eos} if eos is not None else set()


def _penalise(logits: Any, seen: Any, penalty: float) -> Any:
    """transformers' repetition penalty: seen tokens' logits divided (or, if < 0, multiplied)."""
    if penalty == 1.0:
        return logits
    import torch

    picked = logits[seen]
    logits = logits.clone()
    logits[seen] = torch.where(picked < 0, picked * penalty, picked / penalty)
    return logits


def _restrict(logits: Any, allowed: Sequence[int] | None) -> Any:
    if allowed is None:
        return logits
    import torch

    mask = torch.full_like(logits, float("-inf"))
    mask[list(allowed)] = 0.0
    return logits + mask


def _pick(logits: Any, p: Decoding, gen: Any) -> int:
    import torch

    if p.temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / p.temperature, dim=-1)
    if p.top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < p.top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs / probs.sum(), 1, generator=gen))


def _stop_at(text: str, stop: Sequence[str]) -> int | None:
    cuts = [text.find(s) for s in stop if s and s in text]
    return min(cuts) if cuts else None


def _stop_text(text: str, stop: Sequence[str]) -> str:
    cut = _stop_at(text, stop)
    return text if cut is None else text[:cut]
