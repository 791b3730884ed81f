"""Batched query-likelihood scoring: how well does each candidate explain the question?

For each candidate the model reads ``Passage: {view}\\nA question about this
passage:`` followed by the question, and we take the mean log-probability of
the question's tokens. Measured on SmolLM2-135M this ranks far better than
asking for P("yes") (see DESIGN.md). The same question scored after an empty
passage is the baseline; the margin over it (how much the passage helps) is
turned into a score in [0, 1] by a logistic calibrated on held-out data.

Cost control: candidates are sorted by length and padded per batch (right
padding, explicit position ids), the model body runs once per batch, and the
vocabulary projection is applied only at the positions that predict question
tokens — not at every position.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from overlay.choosing.span_head import passage_tokens
from overlay.choosing.view_cache import ViewCache, keep_rows, score_rows
from overlay.model.lean import inner_model, supports
from overlay.model.numeric import autocast
from overlay.model.runner import lean_of
from overlay.model.threads import batched

PROMPT = "Passage: {text}\nA question about this passage:"
MAX_QUERY_TOKENS = 64


@dataclass(frozen=True)
class Calibration:
    """Logistic map from the log-prob margin to [0, 1]: ``σ(scale · (margin − center))``."""

    scale: float = 3.0
    center: float = 1.0

    def __call__(self, margin: float) -> float:
        z = max(-30.0, min(30.0, self.scale * (margin - self.center)))  # exp never overflows
        return 1.0 / (1.0 + math.exp(-z))


@dataclass
class Scores:
    """Query-likelihood of one question against candidates."""

    logprobs: list[float]  # mean log-prob of the question tokens after each candidate
    baseline: float  # the same after an empty passage
    calibrated: list[float]  # in [0, 1]
    tokens_read: int = 0  # tokens the model read to score (all candidates and the baseline)
    features: list[Features] = field(default_factory=list)  # per view, when asked for

    @property
    def margins(self) -> list[float]:
        return [lp - self.baseline for lp in self.logprobs]


@dataclass(frozen=True)
class Features:
    """What the span reader reads of one view's scoring pass: hidden states at ``layers``
    of the passage's tokens (P, L, H) and of the question's (Q, L, H), and each passage
    token's character span in the view."""

    passage: torch.Tensor
    question: torch.Tensor
    chars: list[tuple[int, int]]


def _body_and_head(model: Any) -> tuple[Any, Any]:
    """The transformer body (returns hidden states) and the vocabulary projection."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.get_decoder(), inner.get_output_embeddings()


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def query_logprobs(
    model: Any,
    tokenizer: Any,
    query: str,
    views: Sequence[str],
    *,
    batch_size: int = 8,
    padding_side: Literal["left", "right"] = "right",
    layers: Sequence[int] = (),
    features: list[Features | None] | None = None,
    cache: ViewCache | None = None,
) -> list[float]:
    """Mean log-prob of ``query``'s tokens after each view's prompt (batched). With
    ``layers``, ``features`` receives each view's ``Features`` from the same pass. A
    Llama-layout model reads each prompt through ``view_cache`` (kept in ``cache``, if given);
    others through transformers' forward, padded on ``padding_side``."""
    q_ids = _encode(tokenizer, " " + query.strip())[:MAX_QUERY_TOKENS]
    if not q_ids or not views:
        return [0.0] * len(views)
    encoded = [_encode_prefix(tokenizer, v, bool(layers)) for v in views]
    prefixes = [e[0] for e in encoded]
    order = sorted(range(len(views)), key=lambda i: len(prefixes[i]))
    out = [0.0] * len(views)
    kept: list[Features | None] = [None] * len(views)
    device = next(model.parameters()).device
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        rows = [encoded[i] for i in chunk]
        if supports(inner_model(model)):
            lps, feats = _score_lean(model, rows, q_ids, layers, cache)
        else:
            lps, feats = _score_batch(model, rows, q_ids, padding_side, device, layers)
        for j, (i, lp) in enumerate(zip(chunk, lps, strict=True)):
            out[i] = lp
            kept[i] = feats[j] if feats else None
    if features is not None:
        features[:] = kept
    return out


def _encode_prefix(tokenizer: Any, view: str, offsets: bool) -> tuple[list[int], int, int, list]:
    """The prompt's ids and, with ``offsets`` (the span reader's features are wanted), the
    passage's token range ``[first, last)`` and char spans."""
    text = PROMPT.format(text=view)
    if not view or not offsets:
        return _encode(tokenizer, text), 0, 0, []
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    first, last, chars = passage_tokens(enc["offset_mapping"], len("Passage: "), len(view))
    return list(enc["input_ids"]), first, last, chars


def _score_lean(
    model: Any, rows: list[tuple[list[int], int, int, list]], q_ids: list[int],
    layers: Sequence[int], cache: ViewCache | None,
) -> tuple[list[float], list[Features]]:  # fmt: skip
    """``_score_batch`` through ``LeanLlama``, each prompt read once across turns (``cache``)."""
    with autocast(model, "scoring"), batched():
        lps, pairs = score_rows(lean_of(inner_model(model)), rows, q_ids, layers, cache)
    feats = [Features(p, q, r[3]) for (p, q), r in zip(pairs, rows, strict=True)] if layers else []
    return lps, feats


def keep_views(
    model: Any, tokenizer: Any, views: Sequence[str], layers: Sequence[int], cache: ViewCache
) -> int:
    """Read each view's prompt once and keep it in ``cache``, as ``query_logprobs`` would for a
    question (the same ids, layers and key), so a later question reads only its own tokens; how
    many prompts were read. Only Llama-layout models keep passes (0 for others)."""
    if not supports(inner_model(model)):
        return 0
    rows = [_encode_prefix(tokenizer, v, bool(layers)) for v in views]
    with autocast(model, "scoring"), batched():
        return keep_rows(lean_of(inner_model(model)), rows, layers, cache)


def _score_batch(
    model: Any,
    rows: list[tuple[list[int], int, int, list]],
    q_ids: list[int],
    side: str,
    device: Any,
    layers: Sequence[int] = (),
) -> tuple[list[float], list[Features]]:
    body, head = _body_and_head(model)
    prefixes = [r[0] for r in rows]
    n_q = len(q_ids)
    lens = [len(p) + n_q for p in prefixes]
    width = max(lens)
    pad = 0
    ids = torch.full((len(prefixes), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prefixes), width), dtype=torch.long)
    gather = torch.empty((len(prefixes), n_q), dtype=torch.long)
    for row, (prefix, n) in enumerate(zip(prefixes, lens, strict=True)):
        off = width - n if side == "left" else 0
        ids[row, off : off + n] = torch.tensor(prefix + q_ids)
        mask[row, off : off + n] = 1
        # hidden state at position t predicts token t+1: the question's predictors
        first = off + len(prefix) - 1
        gather[row] = torch.arange(first, first + n_q)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    # bf16 where the CPU does it natively (numeric.py), on every core (threads.py)
    with autocast(model, "scoring"), batched():
        out = body(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            output_hidden_states=bool(layers),
        )
    hidden = out.last_hidden_state  # (B, T, H)
    feats = _features(out.hidden_states, rows, gather, layers) if layers else []
    idx = gather.to(device).unsqueeze(-1).expand(-1, -1, hidden.shape[-1])  # (B, Q, H)
    picked = hidden.gather(1, idx).to(head.weight.dtype)  # (B, Q, H), projected in fp32
    logits = head(picked).float()  # (B, Q, V)
    target = torch.tensor(q_ids, device=device).expand(len(prefixes), -1)  # (B, Q)
    lp = logits.log_softmax(-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (B, Q)
    return [float(v) for v in lp.mean(-1)], feats


def _features(
    hidden: Sequence[torch.Tensor], rows: list, gather: torch.Tensor, layers: Sequence[int]
) -> list[Features]:
    """Per row, the passage's and the question's hidden states at ``layers``."""
    stacked = torch.stack([hidden[i] for i in layers], dim=-2)  # (B, T, L, H)
    out = []
    for r, (_, first, last, chars) in enumerate(rows):
        # the question's tokens sit one after their predictors (``gather``)
        q_pos = gather[r] + 1  # (Q,)
        off = int(q_pos[0]) - len(rows[r][0])  # left padding shifts the whole row
        out.append(Features(
            stacked[r, off + first : off + last].float(), stacked[r, q_pos].float(), chars,
        ))  # fmt: skip
    return out


def score_views(
    model: Any,
    tokenizer: Any,
    query: str,
    views: Sequence[str],
    *,
    batch_size: int = 8,
    calibration: Calibration | None = None,
    layers: Sequence[int] = (),
    cache: ViewCache | None = None,
) -> Scores:
    """Query-likelihood of ``query`` after each view, its baseline, and calibrated scores;
    with ``layers``, each view's ``Features`` for the span reader (the same pass)."""
    cal = calibration or Calibration()
    feats: list[Features | None] = []
    # the passage-free baseline rides along in the first batch
    lps = query_logprobs(
        model, tokenizer, query, ["", *views], batch_size=batch_size, layers=layers,
        features=feats, cache=cache,
    )  # fmt: skip
    baseline, logprobs = lps[0], lps[1:]
    read = read_tokens(tokenizer, query, ["", *views])
    kept = [f for f in feats[1:] if f is not None] if layers else []
    return Scores(logprobs, baseline, [cal(lp - baseline) for lp in logprobs], read, kept)


def read_tokens(tokenizer: Any, query: str, views: Sequence[str]) -> int:
    """Tokens ``query_logprobs`` feeds the model for ``views`` (prefixes plus the question)."""
    q = len(_encode(tokenizer, " " + query.strip())[:MAX_QUERY_TOKENS])
    if not q:
        return 0
    return sum(len(_encode(tokenizer, PROMPT.format(text=v))) + q for v in views)
