"""A plain BERT encoder in torch, with its tokenizer from the ``tokenizers`` library.

``MeanPoolEmbedder`` needs only BERT's last hidden states for all-MiniLM-L6-v2, yet
``transformers.AutoModel``/``AutoTokenizer`` import most of transformers to get them. This
module is the same computation, written out: word + position + token-type embeddings and a
LayerNorm, then per layer self-attention (``scaled_dot_product_attention``, padded keys
masked out as transformers does) and an exact-erf GELU feed-forward, each closed by a
residual LayerNorm. Weights come from ``model.safetensors`` under transformers' key names;
tokens from the folder's ``tokenizer.json``, truncated and padded as transformers' fast
tokenizer does. ``plain_bert_config`` says which folders this covers; the rest go through
transformers. The config and the tokenizer live in ``memory.bert_tokens`` (no torch), which
``memory.bert_numpy`` shares: the same encoder in numpy, for a query in a process without
torch.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from memory.bert_tokens import (
    BertConfig,
    BertTokenizer,
    plain_bert_config,
    read_weights,
    require_plain_bert,
)

__all__ = ["BertConfig", "BertEncoder", "BertTokenizer", "plain_bert_config"]


def _param(*shape: int) -> nn.Parameter:
    """Uninitialised: ``from_folder`` replaces every tensor. (nn.Linear & co. would spend
    ~0.1 s on random init, and building them on the meta device imports torch._dynamo.)"""
    return nn.Parameter(torch.empty(*shape), requires_grad=False)


class _Linear(nn.Module):
    def __init__(self, width_in: int, width_out: int) -> None:
        super().__init__()
        self.weight, self.bias = _param(width_out, width_in), _param(width_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class _LayerNorm(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.weight, self.bias = _param(c.hidden_size), _param(c.hidden_size)
        self.eps = c.layer_norm_eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class _Embedding(nn.Module):
    def __init__(self, rows: int, width: int) -> None:
        super().__init__()
        self.weight = _param(rows, width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = _Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = _Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = _Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = _LayerNorm(c)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        return self.LayerNorm(x + self.position_embeddings(positions))  # transformers' order


class _DenseNorm(nn.Module):
    """``LayerNorm(dense(x) + residual)``: BERT's attention output and FFN output."""

    def __init__(self, c: BertConfig, width: int) -> None:
        super().__init__()
        self.dense = _Linear(width, c.hidden_size)
        self.LayerNorm = _LayerNorm(c)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = _Linear(c.hidden_size, c.hidden_size)
        self.key = _Linear(c.hidden_size, c.hidden_size)
        self.value = _Linear(c.hidden_size, c.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, t, d = x.shape

        def split(lin: _Linear) -> torch.Tensor:  # (B, heads, T, head_dim)
            return lin(x).view(b, t, self.heads, -1).transpose(1, 2)

        # default scale 1/sqrt(head_dim), as BERT's; mask: True where the key is a real token
        out = F.scaled_dot_product_attention(
            split(self.query), split(self.key), split(self.value), attn_mask=mask
        )
        return out.transpose(1, 2).reshape(b, t, d)


class _Attention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _DenseNorm(c, c.hidden_size)


class _Intermediate(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.dense = _Linear(c.hidden_size, c.intermediate_size)


class _Layer(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _DenseNorm(c, c.intermediate_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attention.output(self.attention.self(x, mask), x)
        return self.output(F.gelu(self.intermediate.dense(x)), x)  # exact (erf) GELU


class _Encoder(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class BertEncoder(nn.Module):
    """BERT without its pooler: ``forward`` gives the last hidden states (B, T, hidden)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    @classmethod
    def from_folder(cls, folder: Path, config: BertConfig | None = None) -> BertEncoder:
        """The encoder with ``folder/model.safetensors`` loaded (float32, eval mode)."""
        config = require_plain_bert(folder, config)
        model = cls(config)
        wanted = model.state_dict().keys()
        stored = read_weights(folder, wanted, "pt")
        # pooler.*, embeddings.position_ids and task heads are not needed here
        model.load_state_dict({k: stored[k].float() for k in wanted}, strict=True, assign=True)
        return model.eval()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        # like transformers: no mask when nothing is padded, else a (B, 1, 1, T) key mask
        mask = None if bool(attention_mask.all()) else attention_mask.bool()[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x
