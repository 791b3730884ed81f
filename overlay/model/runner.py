"""The two ways ``decode`` runs a model: ``LeanRunner`` (Llama layout, pre-allocated KV,
prefix reuse) and ``HFRunner`` (any causal LM, through transformers' forward)."""

from __future__ import annotations

import weakref
from typing import Any

import torch

from overlay.model.kernels.cstep import c_step
from overlay.model.lean import LeanLlama, inner_model, supports
from overlay.model.numeric import autocast, path_of
from overlay.model.prefix import PASSAGES, PREFIXES, PrefixCache
from overlay.model.threads import batched

_LEAN: weakref.WeakKeyDictionary[Any, LeanLlama] = weakref.WeakKeyDictionary()


def make_runner(model: Any, capacity: int) -> LeanRunner | HFRunner:
    """A runner for ``model`` able to hold ``capacity`` positions."""
    inner = inner_model(model)
    if not supports(inner):
        return HFRunner(model)
    return LeanRunner(lean_of(inner), active_adapters(inner), capacity)


def lean_of(inner: Any) -> LeanLlama:
    """The one ``LeanLlama`` of a Llama-layout ``*ForCausalLM`` (``supports(inner)``)."""
    lean = _LEAN.get(inner)
    if lean is None:
        lean = _LEAN[inner] = LeanLlama(inner)
    return lean


def active_adapters(model: Any) -> tuple[str, ...]:
    """The adapters the model's LoRA layers currently apply (every layer shares one list
    in ``overlay.adapters``); ``()`` for the base or a model without LoRA layers."""
    for module in model.modules():
        names = module.__dict__.get("_active_adapter")
        if names is not None:
            if module.__dict__.get("_disable_adapters"):
                return ()
            return (names,) if isinstance(names, str) else tuple(names)
    return ()


class LeanRunner:
    """Prefill (reusing a cached prefix) and single-token steps over one ``KV``."""

    def __init__(
        self, lean: LeanLlama, adapters: tuple[str, ...], capacity: int,
        cache: PrefixCache = PREFIXES, ahead: PrefixCache | None = PASSAGES,
    ) -> None:  # fmt: skip
        self.lean = lean
        self.kv = lean.new_kv(capacity)
        prefill = path_of(lean.inner).prefill  # bf16-prefilled states are not fp32 ones
        self.owner = (id(lean.body), lean.head.weight.data_ptr(), prefill, adapters)
        self.cache = cache
        self.ahead = ahead  # prefixes kept ahead of questions (looked up, never filled here)
        self.reused = 0
        self.compiled = c_step(lean, self.kv, adapters)  # None: steps run through torch

    def prefill(self, ids: list[int]) -> torch.Tensor:
        """Logits (V,) after ``ids``; keeps the KV states of a prefix shared with recent
        prompts for the next ones."""
        have, saved = self.cache.lookup(self.owner, ids)
        if self.ahead is not None and self.ahead.nbytes:
            longer, kept = self.ahead.lookup(self.owner, ids)
            if longer > have:
                have, saved = longer, kept
        if saved:
            self.kv.load(*saved)
            self.reused = have
        keep = self.cache.shared_prefix(self.owner, ids, have)
        tensor = torch.tensor([ids], dtype=torch.long, device=self.lean.device)
        # fp32 unless the numeric path says bf16; on every core (a batch of rows: threads.py)
        with autocast(self.lean.inner, "prefill"), batched():
            if keep:  # compute up to the shared prefix, keep it, then the rest
                self.lean.forward(tensor[:, have:keep], self.kv)
                self.cache.keep(self.owner, ids[:keep], self.kv.prefix(keep))
                have = keep
            hidden = self.lean.forward(tensor[:, have:], self.kv)
        return self.lean.logits(hidden.to(self.lean.dtype))

    def keep(self, ids: list[int], cache: PrefixCache, base: int = 0) -> None:
        """Compute the KV states of ``ids`` and keep them in ``cache`` as a prefix (reading
        ahead of questions: no lookup, no logits); with ``base``, on top of the kept whole
        prefix ``ids[:base]``, and only the positions after it."""
        if base:
            head = cache.get(self.owner, ids[:base])
            if head is None:
                raise ValueError("the prefix ids[:base] is not kept")
            self.kv.load(head)
        tensor = torch.tensor([ids[base:]], dtype=torch.long, device=self.lean.device)
        with autocast(self.lean.inner, "prefill"), batched():
            self.lean.forward(tensor, self.kv)
        cache.keep(self.owner, ids, self.kv.prefix(len(ids), base), base)

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """Logits (V,) after one more token ``token`` (1, 1)."""
        if self.compiled is not None:
            return self.lean.logits(self.compiled(int(token[0, 0])))
        return self.lean.logits(self.lean.forward(token, self.kv))


class HFRunner:
    """transformers' own forward with its dynamic cache (architectures ``LeanLlama`` does
    not cover)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.past: Any = None
        self.reused = 0

    def _run(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=ids.to(self.device), past_key_values=self.past, use_cache=True)
        self.past = out.past_key_values
        return out.logits[0, -1].float()  # (V,)

    def prefill(self, ids: list[int]) -> torch.Tensor:
        with autocast(self.model, "prefill"), batched():
            return self._run(torch.tensor([ids], dtype=torch.long))

    def step(self, token: torch.Tensor) -> torch.Tensor:
        return self._run(token)
