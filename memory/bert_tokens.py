"""BERT's config and tokenizer, without torch: what both encoders of ``memory.bert`` (torch)
and ``memory.bert_numpy`` (numpy) read from a folder.

``plain_bert_config`` says which folders a plain BERT encoder covers (the rest go through
transformers); ``BertTokenizer`` runs the folder's ``tokenizer.json`` with ``tokenizers``,
truncated and padded as transformers' fast tokenizer does.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BertConfig:
    """The ``config.json`` fields a plain BERT encoder needs."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float


def plain_bert_config(folder: Path) -> BertConfig | None:
    """``folder``'s config if it is a plain BERT encoder (absolute positions, erf GELU, an
    encoder only) with ``tokenizer.json`` and ``model.safetensors``, else ``None``."""
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        files = all((folder / name).is_file() for name in ("tokenizer.json", "model.safetensors"))
        if (
            not files
            or cfg.get("model_type") != "bert"
            or cfg.get("position_embedding_type") not in (None, "absolute")
            or cfg.get("hidden_act") != "gelu"
            or cfg.get("is_decoder")
            or cfg.get("add_cross_attention")
        ):
            return None
        out = BertConfig(
            vocab_size=int(cfg["vocab_size"]),
            hidden_size=int(cfg["hidden_size"]),
            num_hidden_layers=int(cfg["num_hidden_layers"]),
            num_attention_heads=int(cfg["num_attention_heads"]),
            intermediate_size=int(cfg["intermediate_size"]),
            max_position_embeddings=int(cfg.get("max_position_embeddings", 512)),
            type_vocab_size=int(cfg.get("type_vocab_size", 2)),
            layer_norm_eps=float(cfg.get("layer_norm_eps", 1e-12)),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return out if out.hidden_size % out.num_attention_heads == 0 else None


def require_plain_bert(folder: Path, config: BertConfig | None = None) -> BertConfig:
    """``config``, else ``folder``'s plain BERT config; ValueError when it is not one."""
    config = config or plain_bert_config(folder)
    if config is None:
        raise ValueError(f"{folder} is not a plain BERT folder")
    return config


def read_weights(folder: Path, wanted: Collection[str], framework: str) -> dict[str, Any]:
    """The ``wanted`` tensors of ``folder/model.safetensors`` by their names without a
    ``bert.`` prefix, as ``framework``'s arrays ("np" or "pt"; the pooler and task heads are
    never read); ValueError naming the file when it is unreadable or lacks one."""
    from safetensors import safe_open

    try:
        with safe_open(str(folder / "model.safetensors"), framework=framework) as fh:
            keys = {k.removeprefix("bert."): k for k in fh.keys()}  # noqa: SIM118
            missing = sorted(set(wanted) - keys.keys())
            if missing:
                raise ValueError(f"{folder}/model.safetensors lacks {missing[:3]}")
            return {k: fh.get_tensor(keys[k]) for k in wanted}
    except ValueError:
        raise
    except Exception as exc:  # safetensors' own error type for a bad file
        raise ValueError(f"{folder}/model.safetensors: {exc}") from exc


class BertTokenizer:
    """The folder's ``tokenizer.json`` run by ``tokenizers``: batches truncated to
    ``max_tokens`` (special tokens included) and right-padded to the longest, as
    transformers' fast tokenizer does with ``padding=True, truncation=True``."""

    def __init__(self, folder: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        raw = (folder / "tokenizer.json").read_text(encoding="utf-8")
        try:
            self.counter = Tokenizer.from_str(raw)  # as is, untruncated: for count()
            self.batcher = Tokenizer.from_str(raw)
        except Exception as exc:  # tokenizers raises a bare Exception for a bad file
            raise ValueError(f"{folder}/tokenizer.json: {exc}") from exc
        self.counter.no_truncation()
        self.counter.no_padding()
        self.batcher.enable_truncation(max_tokens, strategy="longest_first")
        pad_token = self._pad_token(folder, json.loads(raw).get("padding") or {})
        pad_id = self.batcher.token_to_id(pad_token)
        if pad_id is None:
            raise ValueError(f"{folder}/tokenizer.json has no pad token {pad_token!r}")
        self.batcher.enable_padding(direction="right", pad_id=pad_id, pad_token=pad_token)

    @staticmethod
    def _pad_token(folder: Path, padding: dict[str, Any]) -> str:
        """transformers' choice: ``pad_token`` of tokenizer_config / special_tokens_map."""
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            try:
                token = json.loads((folder / name).read_text(encoding="utf-8")).get("pad_token")
            except (OSError, ValueError):
                continue
            token = token.get("content") if isinstance(token, dict) else token
            if isinstance(token, str):
                return token
        return str(padding.get("pad_token") or "[PAD]")

    def arrays(self, texts: list[str]) -> dict[str, np.ndarray]:
        """``input_ids``, ``attention_mask``, ``token_type_ids``: (B, T) int64 arrays."""
        encs = self.batcher.encode_batch(texts)

        def rows(field: str) -> np.ndarray:  # (B, T); (0, 0) for no texts
            out = np.array([getattr(e, field) for e in encs], dtype=np.int64)
            return out.reshape(len(encs), -1)

        return {
            "input_ids": rows("ids"),
            "attention_mask": rows("attention_mask"),
            "token_type_ids": rows("type_ids"),
        }

    def __call__(self, texts: list[str], device: str = "cpu") -> dict[str, Any]:
        """``arrays(texts)`` as torch tensors on ``device`` (torch is imported here only)."""
        import torch

        return {k: torch.from_numpy(v).to(device) for k, v in self.arrays(texts).items()}

    def count(self, text: str) -> int:
        """Tokens in ``text`` without special tokens, untruncated."""
        return len(self.counter.encode(text, add_special_tokens=False).ids)
