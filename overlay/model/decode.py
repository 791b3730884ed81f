"""Token-by-token decoding with the prompt's KV cache kept: greedy or sampled, stop strings,
a token budget, text handed out as it is produced (``on_text``), and an optional constraint
(``allowed``) on the next token.

Greedy decoding with ``repetition_penalty`` gives the same tokens as transformers'
``generate(do_sample=False, repetition_penalty=…)`` (tested on a tiny and the real model).

Lean by construction: Llama-layout models run through ``overlay.model.lean`` (the same
modules and kernels, a pre-allocated KV cache, no per-step cache objects or masks), only the
last position is projected onto the vocabulary, the repetition penalty touches only the
tokens seen, and text is detokenised incrementally (a few tokens per step, not the whole
answer). A prompt that starts with a prefix seen before reuses its KV states
(``overlay.model.prefix``). Other architectures decode through transformers' forward.
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
    reused_tokens: int = 0  # prompt tokens whose KV states came from the prefix cache
    logprob: float = 0.0  # sum of the picked tokens' log-probs (the end token included)
    watched: dict[int, float] = field(default_factory=dict)  # ``watch`` ids' first-step log-probs


def decode(
    model: Any,
    tokenizer: Any,
    prompt_ids: list[int],
    params: Decoding | None = None,
    on_text: OnText | None = None,
    allowed: Allowed | None = None,
    watch: Sequence[int] = (),
) -> Decoded:
    """Decode after ``prompt_ids`` (already chat-formatted); see the module docstring.
    ``watch``: token ids whose log-probs at the first generated position are returned
    (``Decoded.watched``), e.g. how likely a reader's "no answer" reply was."""
    import torch

    from overlay.model.runner import make_runner

    p = params or Decoding()
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(p.seed) if p.seed is not None else None
    eos = _eos_ids(tokenizer)
    with torch.inference_mode():
        runner = make_runner(model, len(prompt_ids) + p.max_new_tokens)
        logits = runner.prefill(prompt_ids)
        penalty = _Penalty(prompt_ids, p.repetition_penalty, logits.device)
        text = _Detokenizer(tokenizer)
        step = torch.empty((1, 1), dtype=torch.long, device=logits.device)
        ids: list[int] = []
        emitted, first, finish, logprob = "", None, "length", 0.0
        watched: dict[int, float] = {}
        for _ in range(p.max_new_tokens):
            logits = penalty(logits)
            if allowed is not None:
                logits = _restrict(logits, allowed(ids))
            if watch and not ids:
                norm = torch.logsumexp(logits, dim=-1)
                watched = {t: float(logits[t] - norm) for t in watch}
            nxt = _pick(logits, p, gen)
            logprob += float(logits[nxt] - torch.logsumexp(logits, dim=-1))
            if first is None:
                first = time.perf_counter() - start
            if nxt in eos:
                finish = "stop"
                break
            ids.append(nxt)
            penalty.add(nxt)
            so_far = text.push(nxt)
            cut = _stop_at(so_far, p.stop)
            shown = so_far if cut is None else so_far[:cut]
            if on_text is not None and len(shown) > len(emitted):
                on_text(shown[len(emitted) :])
                emitted = shown
            if cut is not None:
                finish = "stop"
                break
            step[0, 0] = nxt
            logits = runner.step(step)
    final = _stop_text(tokenizer.decode(ids, skip_special_tokens=True), p.stop)
    if on_text is not None and len(final) > len(emitted) and final.startswith(emitted):
        on_text(final[len(emitted) :])
    return Decoded(
        final.strip(), ids, finish, len(prompt_ids), first, runner.reused, logprob, watched
    )


class _Detokenizer:
    """Incremental detokenisation: each step decodes only the last few tokens (the way
    streaming servers do), holding back text that ends inside a multi-byte character."""

    def __init__(self, tokenizer: Any) -> None:
        self.tok = tokenizer
        self.ids: list[int] = []
        self.prefix = 0  # ids[prefix:read] were decoded last time, ids[read:] are new
        self.read = 0
        self.text = ""

    def push(self, token: int) -> str:
        """Add ``token``; the whole text so far (complete characters only)."""
        self.ids.append(token)
        before = self.tok.decode(self.ids[self.prefix : self.read], skip_special_tokens=True)
        after = self.tok.decode(self.ids[self.prefix :], skip_special_tokens=True)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.text += after[len(before) :]
            self.prefix, self.read = self.read, len(self.ids)
        return self.text


class _Penalty:
    """transformers' repetition penalty over the prompt and the generated tokens: a seen
    token's logit is divided by ``penalty`` (multiplied when negative)."""

    def __init__(self, prompt_ids: list[int], penalty: float, device: Any) -> None:
        import torch

        self.penalty = penalty
        self.seen = set(prompt_ids)
        self.index = torch.tensor(sorted(self.seen), dtype=torch.long, device=device)

    def add(self, token: int) -> None:
        if self.penalty != 1.0 and token not in self.seen:
            import torch

            self.seen.add(token)
            self.index = torch.cat([self.index, self.index.new_tensor([token])])

    def __call__(self, logits: Any) -> Any:
        if self.penalty == 1.0 or not len(self.index):
            return logits
        import torch

        picked = logits[self.index]
        logits[self.index] = torch.where(
            picked < 0, picked * self.penalty, picked / self.penalty
        )  # in place: the logits are ours
        return logits


def _eos_ids(tokenizer: Any) -> set[int]:
    eos = tokenizer.eos_token_id
    return set(eos) if isinstance(eos, list) else {eos} if eos is not None else set()


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
