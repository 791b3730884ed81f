"""The span reader: a small head over the frozen model's hidden states from the scoring pass.

The chooser already runs the base model over ``Passage: {view}\\nA question about this
passage: {question}`` for every candidate (``overlay/choosing/scoring.py``). The head reads that
same pass — the passage tokens' and the question tokens' hidden states at ``LAYERS`` (the
question's tokens came after the passage, so they have read it) — and returns, per candidate,
the best answer span (start/end token) and a no-answer score, as an extractive QA head does
(SQuAD 2.0 style: a learned NULL position; a span wins only by beating it). So one batched pass
both chooses and reads: the span's margin over NULL is the evidence for picking the candidate,
ordering citations and abstaining.

    [NULL] + passage (P) + question (Q)  ─► layer mix ─► 576→dim ─► 2 bidirectional layers
        ─► start/end logits over [NULL] + passage

Trained by ``scripts/train_span_head.py`` (see ``overlay/builtin_readers/span/CARD.md``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

LAYERS = (12, 18, 24, 30)  # hidden_states indices (0 = embeddings; 30 = the final, normed)
MAX_POS = 512


@dataclass(frozen=True)
class HeadConfig:
    hidden: int = 576
    layers: int = len(LAYERS)
    dim: int = 192
    depth: int = 2
    heads: int = 4
    dropout: float = 0.0
    max_answer_tokens: int = 48


class SpanHead(nn.Module):
    """Start/end logits over ``[NULL] + passage`` from the base model's features."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        c = self.config = config
        self.mix = nn.Parameter(torch.zeros(c.layers))
        self.norm = nn.LayerNorm(c.hidden)
        self.proj = nn.Linear(c.hidden, c.dim)
        self.segment = nn.Embedding(3, c.dim)  # 0 NULL, 1 passage, 2 question
        self.position = nn.Embedding(MAX_POS, c.dim)
        self.null = nn.Parameter(torch.zeros(c.dim))
        layer = nn.TransformerEncoderLayer(
            c.dim, c.heads, 2 * c.dim, dropout=c.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, c.depth, enable_nested_tensor=False)
        self.out = nn.Linear(c.dim, 2)

    def _embed(self, feats: torch.Tensor) -> torch.Tensor:
        w = self.mix.softmax(0)  # (L,)
        x = (feats.float() * w[:, None]).sum(-2)  # (B, T, H)
        return self.proj(self.norm(x))  # (B, T, D)

    def forward(
        self, p: torch.Tensor, p_mask: torch.Tensor, q: torch.Tensor, q_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``p``: (B, P, L, H) passage features, ``q``: (B, Q, L, H); masks (B, P)/(B, Q) bool.
        Returns start and end logits, each (B, 1 + P); index 0 is NULL, padding is -inf."""
        b, n_p, n_q = p.shape[0], p.shape[1], q.shape[1]
        dev = p.device
        pos_p = torch.arange(n_p, device=dev).clamp(max=MAX_POS - 1)
        pos_q = torch.arange(n_q, device=dev).clamp(max=MAX_POS - 1)
        xp = self._embed(p) + self.segment.weight[1] + self.position(pos_p)  # (B, P, D)
        xq = self._embed(q) + self.segment.weight[2] + self.position(pos_q)  # (B, Q, D)
        xn = (self.null + self.segment.weight[0]).expand(b, 1, -1)  # (B, 1, D)
        x = torch.cat([xn, xp, xq], dim=1)  # (B, 1+P+Q, D)
        keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=dev), p_mask, q_mask], 1)
        h = self.encoder(x, src_key_padding_mask=~keep)[:, : 1 + n_p]  # (B, 1+P, D)
        logits = self.out(h)  # (B, 1+P, 2)
        valid = keep[:, : 1 + n_p]
        logits = logits.masked_fill(~valid[..., None], float("-inf"))
        return logits[..., 0], logits[..., 1]


@dataclass(frozen=True)
class SpanGuess:
    """The best span of one candidate: token indices into its passage, its score, NULL's."""

    start: int  # passage token index (0-based), -1 = none
    end: int  # inclusive
    score: float
    null: float

    @property
    def margin(self) -> float:
        """How far the best span beats "no answer here" (the evidence)."""
        return self.score - self.null


def best_spans(start: torch.Tensor, end: torch.Tensor, max_tokens: int) -> list[SpanGuess]:
    """The highest ``start[i] + end[j]`` with ``i ≤ j < i + max_tokens`` per row (NULL
    excluded) and the NULL score ``start[0] + end[0]``. ``start``/``end``: (B, 1 + P)."""
    out = []
    for s, e in zip(start.float(), end.float(), strict=True):
        n = int(torch.isfinite(s).sum()) - 1
        if n <= 0:
            out.append(SpanGuess(-1, -1, float("-inf"), float(s[0] + e[0])))
            continue
        grid = s[1 : n + 1, None] + e[None, 1 : n + 1]  # (P, P)
        band = torch.ones(n, n, dtype=torch.bool).triu().tril(max_tokens - 1)
        grid = grid.masked_fill(~band, float("-inf"))
        flat = int(grid.argmax())
        i, j = divmod(flat, n)
        out.append(SpanGuess(i, j, float(grid[i, j]), float(s[0] + e[0])))
    return out


def passage_tokens(
    offsets: list[tuple[int, int]], start: int, length: int
) -> tuple[int, int, list[tuple[int, int]]]:
    """Which prompt tokens are the passage's: ``[first, last)`` and each one's character span
    relative to the passage (``offsets``: the prompt's offset mapping; the passage is
    ``prompt[start : start + length]``)."""
    first = last = -1
    chars: list[tuple[int, int]] = []
    for i, (s, e) in enumerate(offsets):
        if e > start and s < start + length and e > s:
            if first < 0:
                first = i
            last = i + 1
            chars.append((max(s - start, 0), min(e - start, length)))
    if first < 0:
        return 0, 0, []
    return first, last, chars


def token_span(chars: list[tuple[int, int]], a0: int, a1: int) -> tuple[int, int] | None:
    """The passage tokens covering characters ``[a0, a1)``: (first, last) inclusive."""
    inside = [i for i, (s, e) in enumerate(chars) if e > a0 and s < a1]
    return (inside[0], inside[-1]) if inside else None


def save_head(head: SpanHead, folder: Path, meta: dict[str, object]) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(folder / "head.safetensors"))
    config = {"config": asdict(head.config), "layers": list(LAYERS), **meta}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def load_head(folder: Path) -> tuple[SpanHead, dict[str, object]]:
    """The head in ``folder`` (``head.safetensors`` + ``config.json``), in eval mode."""
    from safetensors.torch import load_file

    meta = json.loads((folder / "config.json").read_text())
    if tuple(meta.get("layers", ())) != LAYERS:
        raise ValueError(f"span head in {folder.name} reads other layers: {meta.get('layers')}")
    head = SpanHead(HeadConfig(**meta["config"]))
    head.load_state_dict(load_file(str(folder / "head.safetensors")))
    return head.eval(), meta
