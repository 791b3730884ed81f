"""``memory.bert``'s encoder in numpy: a query embedded without importing torch.

``import torch`` is most of a cold ``overlay retrieve`` (seconds of CPU on a busy box, more
than the search and both stores' start-up together), yet a query is a dozen tokens through
six small layers: milliseconds of matrix products. This is the same computation as
``memory.bert.BertEncoder`` (word + position + token-type embeddings and a LayerNorm; per
layer self-attention with padded keys masked out, an erf-GELU feed-forward, residual
LayerNorms), in float32, from the same ``model.safetensors`` read by safetensors' numpy
loader. numpy has no ``erf``: ``_erf`` is Abramowitz & Stegun 7.1.26 (absolute error under
1.5e-7, below float32's resolution of GELU's output). Hidden states equal the torch
encoder's to 1e-5 (tested), so vectors from either runtime share one collection.

A small input runs on one BLAS thread: waking OpenBLAS's thread pool cost a cold query up
to a second on a busy 2-core box, for ~20 ms of products.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memory.bert_tokens import BertConfig, read_weights, require_plain_bert

ONE_THREAD_ROWS = 512  # tokens in a batch (B * T) up to which BLAS runs on one thread
_F32 = np.float32
# Abramowitz & Stegun 7.1.26: erf(x) = 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1/(1 + p x)
_P = _F32(0.3275911)
_A = [_F32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]


def _erf(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    t = _F32(1.0) / (_F32(1.0) + _P * ax)
    poly = _A[0]
    for a in _A[1:]:  # Horner, highest power first
        poly = poly * t + a
    y = _F32(1.0) - poly * t * np.exp(-ax * ax)
    return np.copysign(y, x)


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's ``hidden_act="gelu"``."""
    return _F32(0.5) * x * (_F32(1.0) + _erf(x * _F32(0.7071067811865476)))


class NumpyBertEncoder:
    """BERT without its pooler: ``__call__`` gives the last hidden states (B, T, hidden)."""

    def __init__(self, config: BertConfig, weights: dict[str, np.ndarray]) -> None:
        from threadpoolctl import ThreadpoolController

        self.config = config
        self.w = weights
        self._blas = ThreadpoolController()  # numpy's BLAS, found among the loaded libraries

    @classmethod
    def from_folder(cls, folder: Path, config: BertConfig | None = None) -> NumpyBertEncoder:
        """The encoder with ``folder/model.safetensors`` loaded (float32)."""
        config = require_plain_bert(folder, config)
        stored = read_weights(folder, _names(config), "np")
        weights = {k: np.asarray(v, dtype=_F32) for k, v in stored.items()}
        return cls(config, weights)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = np.square(x - mean).mean(-1, keepdims=True)
        out = (x - mean) / np.sqrt(var + _F32(self.config.layer_norm_eps))
        return out * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        """``x @ W.T + b`` on (B*T, in) rows: one BLAS call (numpy loops over a 3-D stack)."""
        w = self.w[f"{name}.weight"]  # (out, in): BLAS reads the transposed view as is
        out = x.reshape(-1, w.shape[1]) @ w.T + self.w[f"{name}.bias"]
        return out.reshape(*x.shape[:-1], w.shape[0])

    def _attention(self, x: np.ndarray, pre: str, mask: np.ndarray | None) -> np.ndarray:
        b, t, d = x.shape
        heads = self.config.num_attention_heads

        def split(name: str) -> np.ndarray:  # (B, heads, T, head_dim)
            return self._linear(x, f"{pre}.{name}").reshape(b, t, heads, -1).transpose(0, 2, 1, 3)

        q, k, v = split("query"), split("key"), split("value")
        scores = q @ k.transpose(0, 1, 3, 2) * _F32(1.0 / np.sqrt(d // heads))  # (B, h, T, T)
        if mask is not None:  # (B, 1, 1, T): True where the key is a real token
            scores = np.where(mask, scores, np.finfo(_F32).min)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        return (probs @ v).transpose(0, 2, 1, 3).reshape(b, t, d)

    def __call__(
        self,
        input_ids: np.ndarray,
        attention_mask: np.ndarray,
        token_type_ids: np.ndarray | None = None,
    ) -> np.ndarray:
        """(B, T) int ids and mask → (B, T, hidden) float32."""
        if input_ids.size > ONE_THREAD_ROWS:
            return self._forward(input_ids, attention_mask, token_type_ids)
        with self._blas.limit(limits=1, user_api="blas"):
            return self._forward(input_ids, attention_mask, token_type_ids)

    def _forward(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray | None
    ) -> np.ndarray:
        w, t = self.w, input_ids.shape[1]
        if token_type_ids is None:
            token_type_ids = np.zeros_like(input_ids)
        x = w["embeddings.word_embeddings.weight"][input_ids]
        x = x + w["embeddings.token_type_embeddings.weight"][token_type_ids]
        x = x + w["embeddings.position_embeddings.weight"][:t][None]  # transformers' order
        x = self._norm(x, "embeddings.LayerNorm")
        mask = None if attention_mask.all() else attention_mask.astype(bool)[:, None, None, :]
        for i in range(self.config.num_hidden_layers):
            pre = f"encoder.layer.{i}"
            att = self._attention(x, f"{pre}.attention.self", mask)
            x = self._norm(self._linear(att, f"{pre}.attention.output.dense") + x,
                           f"{pre}.attention.output.LayerNorm")  # fmt: skip
            inner = _gelu(self._linear(x, f"{pre}.intermediate.dense"))
            x = self._norm(self._linear(inner, f"{pre}.output.dense") + x,
                           f"{pre}.output.LayerNorm")  # fmt: skip
        return x


def _names(c: BertConfig) -> list[str]:
    """The tensors the encoder reads, under transformers' names (``bert.`` prefix removed)."""
    names = [f"embeddings.{e}_embeddings.weight" for e in ("word", "position", "token_type")]
    names += ["embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
    for i in range(c.num_hidden_layers):
        pre = f"encoder.layer.{i}"
        for part in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense", "attention.output.LayerNorm",
                     "intermediate.dense", "output.dense", "output.LayerNorm"):  # fmt: skip
            names += [f"{pre}.{part}.weight", f"{pre}.{part}.bias"]
    return names
