"""The sentence-transformers-free MiniLM path gives sentence-transformers' vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memory.embeddings import SentenceEmbedder, resolve_embedder_path
from memory.minilm import MeanPoolEmbedder, load_embedder, mean_pool_config

TEXTS = [
    "How many days of paid annual leave do employees get?",
    "Halvorsen Instruments was founded in 1987 in Bergen.",
    "",
    "word " * 400,  # longer than the 256-token limit: truncated the same way
    "Ünïcödé — text, with punctuation!?",
]


def test_mean_pool_embedder_matches_sentence_transformers(minilm: SentenceEmbedder) -> None:
    lean = load_embedder("all-MiniLM-L6-v2", batch_size=2)
    assert isinstance(lean, MeanPoolEmbedder)
    assert (lean.name, lean.dim, lean.max_tokens) == (minilm.name, minilm.dim, minilm.max_tokens)
    ours, theirs = lean.embed(TEXTS), minilm.embed(TEXTS)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-5
    assert all(lean.count_tokens(t) == minilm.count_tokens(t) for t in TEXTS)
    assert lean.embed([]).shape == (0, lean.dim)


def test_other_folders_are_not_taken_for_mean_pooled(tmp_path: Path) -> None:
    folder = Path(resolve_embedder_path("all-MiniLM-L6-v2"))
    assert mean_pool_config(folder) == 256
    assert mean_pool_config(tmp_path) is None
    (tmp_path / "modules.json").write_text('[{"type": "sentence_transformers.models.Dense"}]')
    assert mean_pool_config(tmp_path) is None
