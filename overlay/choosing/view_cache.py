"""The scoring pass without reading the same passage twice: each view's prompt is read once,
its keys and values kept, and a later question after the same view reads only its own tokens.

The chooser's prompt is ``Passage: {view}\\nA question about this passage:`` followed by the
question, tokenized apart (``overlay.choosing.scoring``), so a view's prompt is the same token
prefix whatever is asked, and its keys, values and hidden states do not depend on the question
(causal attention). Kept, they make a later pass over the same view exact and far cheaper: the
question's ~10 tokens per candidate instead of the view's ~60. A view is one of its chunk's
windows (``views.windows``), the same whatever is asked, so every view can be kept, and read
ahead of the first question (``overlay.choosing.warm``).

    views ─► prompt ids ─► cached? ─ no ─► one batched pass over the missing prompts
                                           (kept: keys/values, span features, last state)
          ─► one batched pass over the question's tokens, every row after its own prompt
          ─► mean log-prob of the question's tokens, span features of passage and question

Only the bare base model's passes are kept (a LoRA adapter can be replaced under its name; the
base is frozen). The cache is bounded in bytes, least recently used first out;
``view_cache_stats()`` gives its hit rate (``/metrics``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from overlay.model.lean import LeanLlama, Past
from overlay.model.numeric import path_of
from overlay.model.runner import active_adapters


@dataclass(frozen=True)
class Kept:
    """One view prompt's pass: keys and values (layers, kv_heads, P, head_dim), the hidden
    states of its passage tokens at the span reader's layers (or None), and the final-norm
    state of its last token (which predicts the question's first token)."""

    keys: torch.Tensor
    values: torch.Tensor
    passage: torch.Tensor | None
    last: torch.Tensor

    @property
    def length(self) -> int:
        return self.keys.shape[2]

    @property
    def nbytes(self) -> int:
        parts = [
            self.keys,
            self.values,
            self.last,
            *([self.passage] if self.passage is not None else []),
        ]
        return sum(p.numel() * p.element_size() for p in parts)


class ViewCache:
    """LRU of (model, layers, prompt ids) → ``Kept``, at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Any, ...], Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.lookups = self.hits = self.reused_tokens = self.warmed = 0

    def get(self, key: tuple[Any, ...]) -> Kept | None:
        with self._lock:
            self.lookups += 1
            kept = self._entries.get(key)
            if kept is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                self.reused_tokens += kept.length
            return kept

    def put(self, key: tuple[Any, ...], kept: Kept, warmed: bool = False) -> None:
        """Keep ``kept`` under ``key``; ``warmed``: read before any question asked for it."""
        with self._lock:
            if kept.nbytes > self.max_bytes or key in self._entries:
                return
            self.warmed += warmed
            self._entries[key] = kept
            self._bytes += kept.nbytes
            self._evict()

    def holds(self, key: tuple[Any, ...]) -> bool:
        """Whether ``key`` is kept (not a lookup: the hit rate does not count it)."""
        with self._lock:
            return key in self._entries

    @property
    def nbytes(self) -> int:
        return self._bytes

    def sized(self, max_bytes: int) -> ViewCache:
        """This cache, bounded to ``max_bytes`` from now on (the settings' size)."""
        with self._lock:
            self.max_bytes = max_bytes
            self._evict()
        return self

    def _evict(self) -> None:
        """Least recently used entries out until the cache fits ``max_bytes`` (lock held)."""
        while self._bytes > self.max_bytes and self._entries:
            _, old = self._entries.popitem(last=False)
            self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.lookups = self.hits = self.reused_tokens = self.warmed = 0

    def stats(self) -> dict[str, float]:
        with self._lock:
            rate = self.hits / self.lookups if self.lookups else 0.0
            return {"lookups": self.lookups, "hits": self.hits, "hit_rate": round(rate, 4),
                    "reused_tokens": self.reused_tokens, "entries": len(self._entries),
                    "bytes": self._bytes, "warmed": self.warmed}  # fmt: skip


VIEWS = ViewCache()


def view_cache_stats() -> dict[str, float]:
    """Hit rate and counters of the process's view cache (``/metrics`` reads this)."""
    return VIEWS.stats()


def score_rows(
    lean: LeanLlama,
    rows: Sequence[tuple[list[int], int, int, list]],
    q_ids: list[int],
    layers: Sequence[int],
    cache: ViewCache | None = VIEWS,
) -> tuple[list[float], list[tuple[torch.Tensor, torch.Tensor]]]:
    """Mean log-prob of ``q_ids`` after each row's prompt (``rows``: prompt ids, the passage's
    token range and char spans, as ``scoring._encode_prefix`` gives them) and, with
    ``layers``, each row's passage and question hidden states at ``layers`` (P, L, H)/(Q, L, H).
    ``cache``: kept prompts (None: nothing kept or reused)."""
    owner = _owner(lean, layers) if cache is not None else None
    kept: list[Kept | None] = [cache.get((owner, *r[0])) if cache else None for r in rows]
    missing = [i for i, k in enumerate(kept) if k is None]
    if missing:
        fresh = _read_and_keep(lean, [rows[i] for i in missing], layers, cache, owner)
        for i, k in zip(missing, fresh, strict=True):
            kept[i] = k
    done = [k for k in kept if k is not None]
    return _read_question(lean, done, q_ids, layers)


def keep_rows(
    lean: LeanLlama,
    rows: Sequence[tuple[list[int], int, int, list]],
    layers: Sequence[int],
    cache: ViewCache,
) -> int:
    """Read and keep the prompts of ``rows`` not kept yet, no question asked (warming the
    cache before the first turn); how many were read. Nothing is kept under an adapter."""
    owner = _owner(lean, layers)
    if owner is None:
        return 0
    missing = [r for r in rows if not cache.holds((owner, *r[0]))]
    if missing:
        _read_and_keep(lean, missing, layers, cache, owner, warmed=True)
    return len(missing)


def _read_and_keep(
    lean: LeanLlama,
    rows: Sequence[tuple[list[int], int, int, list]],
    layers: Sequence[int],
    cache: ViewCache | None,
    owner: tuple[Any, ...] | None,
    warmed: bool = False,
) -> list[Kept]:
    """One batched pass over ``rows``' prompts, each kept in ``cache`` under ``owner`` (None:
    nothing kept, e.g. under an adapter)."""
    fresh = _read_prompts(lean, rows, layers)
    if cache is not None and owner is not None:
        for r, k in zip(rows, fresh, strict=True):
            cache.put((owner, *r[0]), k, warmed=warmed)
    return fresh


def _owner(lean: LeanLlama, layers: Sequence[int]) -> tuple[Any, ...] | None:
    """The cache's key for this model's passes, or None (not kept) under an adapter."""
    if active_adapters(lean.inner):
        return None
    return (id(lean.body), path_of(lean.inner).scoring, tuple(layers))


def _read_prompts(
    lean: LeanLlama, rows: Sequence[tuple[list[int], int, int, list]], layers: Sequence[int]
) -> list[Kept]:
    """One batched pass over the prompts (right-padded): what each row keeps."""
    lens = [len(r[0]) for r in rows]
    ids = torch.zeros((len(rows), max(lens)), dtype=torch.long)
    for r, (prompt, *_) in enumerate(rows):
        ids[r, : len(prompt)] = torch.tensor(prompt)
    final, hidden, new = lean.forward_rows(ids.to(lean.device), capture=tuple(layers))
    stacked = torch.stack([hidden[i] for i in layers], dim=-2) if layers else None  # (B,T,L,H)
    out = []
    for r, ((_, first, last, _), n) in enumerate(zip(rows, lens, strict=True)):
        keys = torch.stack([k[r, :, :n] for k, _ in new])  # (layers, kv, P, D)
        values = torch.stack([v[r, :, :n] for _, v in new])
        passage = stacked[r, first:last].float() if stacked is not None else None
        out.append(Kept(keys, values, passage, final[r, n - 1].clone()))
    return out


def _read_question(
    lean: LeanLlama, kept: Sequence[Kept], q_ids: list[int], layers: Sequence[int]
) -> tuple[list[float], list[tuple[torch.Tensor, torch.Tensor]]]:
    b, width = len(kept), max(k.length for k in kept)
    shape = kept[0].keys.shape  # (layers, kv, P, D)
    keys = kept[0].keys.new_zeros((shape[0], b, shape[1], width, shape[3]))
    values = torch.zeros_like(keys)
    for r, k in enumerate(kept):
        keys[:, r, :, : k.length], values[:, r, :, : k.length] = k.keys, k.values
    past: Past = tuple((keys[i], values[i]) for i in range(shape[0]))
    lengths = torch.tensor([k.length for k in kept])
    ids = torch.tensor([q_ids] * b, device=lean.device)
    final, hidden, _ = lean.forward_rows(ids, past, lengths, capture=tuple(layers))
    # the state before each question token predicts it: the prompt's last, then the question's
    before = torch.cat([torch.stack([k.last for k in kept])[:, None], final[:, :-1]], 1)
    logits = lean.head(before.to(lean.head.weight.dtype)).float()  # (B, Q, V)
    target = torch.tensor(q_ids, device=lean.device).expand(b, -1)
    lp = logits.log_softmax(-1).gather(-1, target.unsqueeze(-1)).squeeze(-1).mean(-1)
    feats: list[tuple[torch.Tensor, torch.Tensor]] = []
    if layers:
        stacked = torch.stack([hidden[i] for i in layers], dim=-2).float()  # (B, Q, L, H)
        feats = [(k.passage, stacked[r]) for r, k in enumerate(kept) if k.passage is not None]
    return [float(v) for v in lp], feats
