"""A lean forward pass for Llama-family decoders, with a pre-allocated KV cache.

transformers spends about half of each decoded token's time around the kernels (cache
objects, mask builders, output dataclasses, kwargs plumbing). ``LeanLlama`` calls the same
modules — so LoRA layers, whichever adapter the registry made active, still apply — in the
same order with the same kernels (``scaled_dot_product_attention`` with ``enable_gqa``,
the model's own rotary table and RMSNorm), and writes keys and values into buffers sized
once per call instead of concatenating a growing cache every step.

``supports(model)`` says whether a model has the Llama layout; others decode through
transformers' own forward (``overlay.model.decode`` falls back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


def inner_model(model: Any) -> Any:
    """The transformers ``*ForCausalLM`` under a PEFT wrapper (or ``model`` itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def supports(model: Any) -> bool:
    """``model`` has the Llama decoder layout ``LeanLlama`` runs (Llama, SmolLM2, Mistral…)."""
    inner = inner_model(model)
    body = getattr(inner, "model", None)
    layers = getattr(body, "layers", None)
    if body is None or layers is None or not len(layers) or not hasattr(body, "rotary_emb"):
        return False
    attn = getattr(layers[0], "self_attn", None)
    cfg = inner.config
    return (
        attn is not None
        and all(hasattr(attn, n) for n in ("q_proj", "k_proj", "v_proj", "o_proj"))
        and hasattr(layers[0], "mlp")
        and getattr(cfg, "model_type", "") in {"llama", "mistral", "qwen2"}
        and getattr(cfg, "sliding_window", None) is None
    )


Past = tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per layer (keys, values)


@dataclass
class KV:
    """Keys and values for every layer, pre-allocated to ``capacity`` positions."""

    keys: list[torch.Tensor]  # per layer (1, kv_heads, capacity, head_dim)
    values: list[torch.Tensor]
    length: int = 0  # positions filled

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    def prefix(self, n: int, start: int = 0) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
        """Copies of positions ``start``..``n`` of every layer (to keep in a prefix cache)."""
        return tuple(
            (k[:, :, start:n].clone(), v[:, :, start:n].clone())
            for k, v in zip(self.keys, self.values, strict=True)
        )

    def load(self, *parts: tuple[tuple[torch.Tensor, torch.Tensor], ...]) -> None:
        """Fill the first positions from ``prefix()`` copies, one after the other."""
        at = 0
        for saved in parts:
            n = saved[0][0].shape[2]
            for (k, v), (sk, sv) in zip(
                zip(self.keys, self.values, strict=True), saved, strict=True
            ):
                k[:, :, at : at + n].copy_(sk)
                v[:, :, at : at + n].copy_(sv)
            at += n
        self.length = at


class LeanLlama:
    """Runs a Llama-layout model token block by token block over a pre-allocated ``KV``."""

    def __init__(self, model: Any) -> None:
        inner = inner_model(model)
        self.inner = inner
        self.body = inner.model
        self.head = inner.get_output_embeddings()
        cfg = inner.config
        self.layers = list(self.body.layers[: cfg.num_hidden_layers])
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        self.scaling = self.head_dim**-0.5
        self.dtype = self.head.weight.dtype
        self.device = self.head.weight.device
        self._cos = self._sin = torch.empty(0)

    def new_kv(self, capacity: int) -> KV:
        shape = (1, self.n_kv, capacity, self.head_dim)
        keys = [torch.empty(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        values = [torch.empty(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        self._rotary(capacity)
        return KV(keys, values)

    def _rotary(self, capacity: int) -> None:
        """cos/sin of every position up to ``capacity`` (each position's value is the same
        whatever the table's length: the rotary angle is a per-element product)."""
        if self._cos.shape[0] >= capacity:
            return
        pos = torch.arange(capacity, device=self.device).unsqueeze(0)
        dummy = torch.empty(0, dtype=self.dtype, device=self.device)
        cos, sin = self.body.rotary_emb(dummy, position_ids=pos)  # (1, capacity, head_dim)
        self._cos, self._sin = cos[0], sin[0]

    def forward(self, ids: torch.Tensor, kv: KV) -> torch.Tensor:
        """Read ``ids`` (1, T) after the ``kv.length`` positions already in ``kv``; return
        the final-norm hidden state of the last position (1, H) and extend ``kv``."""
        start, t = kv.length, ids.shape[1]
        end = start + t
        if end > kv.capacity:
            raise ValueError(f"KV capacity {kv.capacity} exceeded ({end} positions)")
        cos = self._cos[start:end].unsqueeze(0).unsqueeze(0)  # (1, 1, T, D)
        sin = self._sin[start:end].unsqueeze(0).unsqueeze(0)
        mask = None
        if t > 1 and start > 0:  # a block after cached positions: causal over the block only
            mask = torch.ones((t, end), dtype=torch.bool, device=self.device).tril(start)
        h = self.body.embed_tokens(ids)  # (1, T, H)
        for i, layer in enumerate(self.layers):
            h = h + self._attend(layer, layer.input_layernorm(h), kv, i, start, end, cos, sin, mask)
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        kv.length = end
        return self.body.norm(h[:, -1])  # (1, H)

    def _attend(
        self, layer: Any, x: torch.Tensor, kv: KV, i: int, start: int, end: int,
        cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
    ) -> torch.Tensor:  # fmt: skip
        attn = layer.self_attn
        t = x.shape[1]
        q = attn.q_proj(x).view(1, t, -1, self.head_dim).transpose(1, 2)  # (1, heads, T, D)
        k = attn.k_proj(x).view(1, t, -1, self.head_dim).transpose(1, 2)  # (1, kv, T, D)
        v = attn.v_proj(x).view(1, t, -1, self.head_dim).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        kv.keys[i][:, :, start:end] = k
        kv.values[i][:, :, start:end] = v
        keys, values = kv.keys[i][:, :, :end], kv.values[i][:, :, :end]
        out = F.scaled_dot_product_attention(
            q, keys, values, attn_mask=mask, is_causal=t > 1 and mask is None,
            scale=self.scaling, enable_gqa=self.n_heads != self.n_kv,
        )  # fmt: skip  # (1, heads, T, D)
        return attn.o_proj(out.transpose(1, 2).reshape(1, t, -1))

    def forward_rows(
        self, ids: torch.Tensor, past: Past | None = None, past_len: torch.Tensor | None = None,
        capture: tuple[int, ...] = (),
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor], Past]:  # fmt: skip
        """Read ``ids`` (B, T), each row after its own past: ``past`` per layer (keys, values),
        each (B, kv_heads, M, head_dim), of which row b's first ``past_len[b]`` positions are
        real (None: no past; rows right-padded, so a real token never sees a pad). Returns the
        final-norm hidden states (B, T, H); the hidden states at ``capture`` (transformers'
        ``hidden_states`` numbering: 0 the embeddings, i after layer i, the last normed), each
        (B, T, H); and each layer's keys and values of ``ids`` (B, kv_heads, T, head_dim)."""
        b, t = ids.shape
        n = len(self.layers)
        done = torch.zeros(b, dtype=torch.long) if past_len is None else past_len.long()
        pos = done[:, None] + torch.arange(t)[None]  # (B, T)
        self._rotary(int(pos.max()) + 1)
        cos, sin = self._cos[pos].unsqueeze(1), self._sin[pos].unsqueeze(1)  # (B, 1, T, D)
        mask = None
        if past is not None:
            seen = torch.arange(past[0][0].shape[2])[None] < done[:, None]  # (B, M)
            own = torch.ones((t, t), dtype=torch.bool).tril()
            mask = torch.cat([seen[:, None].expand(b, t, -1), own.expand(b, t, t)], -1)
            mask = mask.unsqueeze(1).to(self.device)  # (B, 1, T, M + T)
        h = self.body.embed_tokens(ids)  # (B, T, H)
        kept = {0: h} if 0 in capture else {}
        new: list[tuple[torch.Tensor, torch.Tensor]] = []
        for i, layer in enumerate(self.layers):
            attn, x = layer.self_attn, layer.input_layernorm(h)
            q = attn.q_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)  # (B, heads, T, D)
            k = attn.k_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)  # (B, kv, T, D)
            v = attn.v_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            new.append((k, v))
            if past is not None:
                k, v = torch.cat([past[i][0], k], 2), torch.cat([past[i][1], v], 2)
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=mask is None and t > 1,
                scale=self.scaling, enable_gqa=self.n_heads != self.n_kv,
            )  # fmt: skip
            h = h + attn.o_proj(out.transpose(1, 2).reshape(b, t, -1))
            h = h + layer.mlp(layer.post_attention_layernorm(h))
            if i + 1 < n and i + 1 in capture:
                kept[i + 1] = h
        final = self.body.norm(h)
        if n in capture:
            kept[n] = final
        return final, kept, tuple(new)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits (V,) in fp32 for one final hidden state (1, H)."""
        return self.head(hidden)[0].float()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
