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

A plain BERT also runs without torch (``memory.bert_numpy``): ``import torch`` was still most
of a cold ``overlay retrieve``, for one query through six small layers. ``runtime`` picks the
encoder: ``numpy``; ``torch``; ``auto`` (the default) embeds a call of at most
``NUMPY_MAX_TEXTS`` texts in numpy while torch is not imported, and loads the torch encoder
for bigger batches (ingestion: torch was ~1.6x faster at 32 texts of ~60 tokens, one thread
each) or when torch is already loaded at start (``overlay serve``, where the model needs it).
Both give the same vectors to 1e-5 (tested), so one collection takes either.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memory.bert_tokens import BertConfig, BertTokenizer, plain_bert_config
from memory.embeddings import BUILTIN, Embedder, SentenceEmbedder, resolve_embedder_path
from memory.errors import InvalidInput

NUMPY_MAX_TEXTS = 16  # auto: calls this small skip torch (a query, a turn, a small file)

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
                 batch_size: int = 32, lean: bool = True, runtime: str = "auto",
                 torch_setup: Callable[[], object] | None = None) -> None:  # fmt: skip
        """``lean=False`` forces the transformers path (the reference the tests compare to);
        ``torch_setup`` runs once before torch's encoder loads (e.g. to set its threads)."""
        if runtime not in ("auto", "torch", "numpy"):
            raise InvalidInput(f"unknown embedder runtime {runtime!r}: auto, torch or numpy")
        self._folder, self._device = folder, device
        self._setup = torch_setup or (lambda: None)
        self._config: BertConfig | None = plain_bert_config(folder) if lean else None
        self.lean = self._config is not None
        self.runtime = runtime if self.lean and device == "cpu" else "torch"
        self.tokenizer: Any
        self._model: Any = None
        self._numpy: Any = None
        try:
            if self._config is not None:
                self.tokenizer = BertTokenizer(folder, max_tokens)
                dim = self._config.hidden_size
                if self.runtime == "torch" or (self.runtime == "auto" and "torch" in sys.modules):
                    self._load_torch()
                else:
                    from memory.bert_numpy import NumpyBertEncoder

                    self._numpy = NumpyBertEncoder.from_folder(folder, self._config)
            else:
                self._setup()
                self.tokenizer, self._model = _transformers_encoder(folder)
                self._model.to(device).eval()
                dim = self._model.config.hidden_size
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot load embedder {name!r} offline: {exc}") from exc
        self.name = name
        self.dim = int(dim)
        self.max_tokens = max_tokens
        self.batch_size = batch_size

    def _load_torch(self) -> None:
        from memory.bert import BertEncoder

        self._setup()
        self._model = BertEncoder.from_folder(self._folder, self._config).to(self._device)

    @property
    def model(self) -> Any:
        """The torch encoder, loaded on first use where ``runtime`` started without it."""
        if self._model is None:
            try:
                self._load_torch()
            except (OSError, ValueError) as exc:
                raise InvalidInput(f"cannot load embedder {self.name!r}: {exc}") from exc
        return self._model

    def uses_numpy(self, n: int) -> bool:
        """Whether a call embedding ``n`` texts runs in numpy (see the module docstring)."""
        if self._numpy is None:
            return False
        return self.runtime == "numpy" or (n <= NUMPY_MAX_TEXTS and "torch" not in sys.modules)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32, L2-normalised."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # less padding
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        if self.uses_numpy(len(texts)):
            for rows in batches:
                enc = self.tokenizer.arrays([texts[i] for i in rows])
                hidden = self._numpy(**enc)  # (B, T, dim)
                mask = enc["attention_mask"][..., None].astype(np.float32)  # (B, T, 1)
                mean = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)  # (B, dim)
                norm = np.linalg.norm(mean, axis=1, keepdims=True)
                out[rows] = mean / np.maximum(norm, 1e-12)  # as torch's normalize
            return out
        import torch

        model = self.model
        with torch.inference_mode():
            for rows in batches:
                batch = [texts[i] for i in rows]
                if self.lean:
                    enc = self.tokenizer(batch, self._device)
                    hidden = model(**enc)  # (B, T, dim)
                else:
                    enc = self.tokenizer(
                        batch, padding=True, truncation="longest_first",
                        max_length=self.max_tokens, return_tensors="pt",
                    ).to(self._device)  # fmt: skip
                    hidden = model(**enc).last_hidden_state
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


def load_embedder(spec: str, device: str = "cpu", batch_size: int = 32, runtime: str = "auto",
                  torch_setup: Callable[[], object] | None = None) -> Embedder:  # fmt: skip
    """The cheapest correct loader for ``spec``: ``MeanPoolEmbedder`` for mean-pooled
    folders (``runtime``: auto, torch or numpy), sentence-transformers for anything else;
    ``torch_setup`` runs before torch loads."""
    folder = Path(resolve_embedder_path(spec))
    max_tokens = mean_pool_config(folder) if folder.is_dir() else None
    if max_tokens is None:
        if torch_setup is not None:
            torch_setup()
        return SentenceEmbedder(spec, device, batch_size)
    name = "all-MiniLM-L6-v2" if spec.lower() in BUILTIN else spec
    return MeanPoolEmbedder(folder, name, max_tokens, device, batch_size,
                            runtime=runtime, torch_setup=torch_setup)  # fmt: skip
