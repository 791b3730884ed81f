"""Sentence embeddings for mean-pooled encoders (all-MiniLM-L6-v2 and its kind) without
importing sentence-transformers, and for plain BERT folders without transformers either.

``import sentence_transformers`` alone takes ~8 s here (it imports its trainers, samplers
and backends), which every CLI command that embeds a query paid. A folder whose
``modules.json`` is exactly Transformer → mean Pooling → Normalize is the same computation
as three lines of torch: encode with the folder's tokenizer (truncated to its
``max_seq_length``), average the last hidden states over the attention mask, L2-normalise.
The vectors equal sentence-transformers' (tested to 1e-5); any other folder loads through
sentence-transformers as before (``load_embedder``).

The encoder itself no longer needs transformers when the folder is a plain BERT (as
all-MiniLM-L6-v2 is): ``memory.bert`` runs it in a page of torch, from ``model.safetensors``
and ``tokenizer.json``. Importing transformers' ``AutoModel``/``AutoTokenizer`` and BERT took
~1.8 s after torch here, and ``MeanPoolEmbedder()`` ~2.0 s; on the lean path it takes
~0.05 s, and a cold ``overlay retrieve`` went from ~6.2 s to ~3.9 s (old and new run
alternately, medians on a busy 2-core box). Same tokens, hidden states equal to
transformers' (tested to 1e-5); other architectures still load through ``AutoModel``
(``lean=False`` forces that path).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memory.embeddings import BUILTIN, Embedder, SentenceEmbedder, resolve_embedder_path
from memory.errors import InvalidInput

_MODULES = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]


def mean_pool_config(folder: Path) -> int | None:
    """``max_seq_length`` if ``folder`` is a Transformer → mean Pooling → Normalize model."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        if [m["type"] for m in modules] != _MODULES or modules[0].get("path"):
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text("utf-8"))
        sbert = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    if modes != {"pooling_mode_mean_tokens"} or sbert.get("do_lower_case"):
        return None
    return int(sbert.get("max_seq_length") or 512)


class MeanPoolEmbedder:
    """A mean-pooled, normalised BERT-like encoder (see the module docstring)."""

    def __init__(self, folder: Path, name: str, max_tokens: int, device: str = "cpu",
                 batch_size: int = 32, lean: bool = True) -> None:  # fmt: skip
        """``lean=False`` forces the transformers path (the reference the tests compare to)."""
        bert_config = None
        if lean:
            from memory.bert import plain_bert_config

            bert_config = plain_bert_config(folder)
        self.tokenizer: Any
        self.model: Any
        try:
            if bert_config is not None:
                from memory.bert import BertEncoder, BertTokenizer

                self.tokenizer = BertTokenizer(folder, max_tokens)
                self.model = BertEncoder.from_folder(folder, bert_config)
                dim = bert_config.hidden_size
            else:
                self.tokenizer, self.model = _transformers_encoder(folder)
                dim = self.model.config.hidden_size
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot load embedder {name!r} offline: {exc}") from exc
        self.lean = bert_config is not None
        self.model.to(device).eval()
        self.device = device
        self.name = name
        self.dim = int(dim)
        self.max_tokens = max_tokens
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32, L2-normalised."""
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # less padding
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                batch = [texts[i] for i in rows]
                if self.lean:
                    enc = self.tokenizer(batch, self.device)
                    hidden = self.model(**enc)  # (B, T, dim)
                else:
                    enc = self.tokenizer(
                        batch, padding=True, truncation="longest_first",
                        max_length=self.max_tokens, return_tensors="pt",
                    ).to(self.device)  # fmt: skip
                    hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, dim)
                vecs = torch.nn.functional.normalize(mean, p=2, dim=1)
                out[rows] = vecs.float().cpu().numpy()
        return out

    def count_tokens(self, text: str) -> int:
        """Tokens the embedder sees for ``text``, without special tokens."""
        if self.lean:
            return int(self.tokenizer.count(text))
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def _transformers_encoder(folder: Path) -> tuple[Any, Any]:
    """``AutoTokenizer`` and ``AutoModel`` for ``folder``, offline and quiet."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return tokenizer, AutoModel.from_pretrained(str(folder), local_files_only=True)


def load_embedder(spec: str, device: str = "cpu", batch_size: int = 32) -> Embedder:
    """The cheapest correct loader for ``spec``: ``MeanPoolEmbedder`` for mean-pooled
    folders, sentence-transformers for anything else."""
    folder = Path(resolve_embedder_path(spec))
    max_tokens = mean_pool_config(folder) if folder.is_dir() else None
    if max_tokens is None:
        return SentenceEmbedder(spec, device, batch_size)
    name = "all-MiniLM-L6-v2" if spec.lower() in BUILTIN else spec
    return MeanPoolEmbedder(folder, name, max_tokens, device, batch_size)
