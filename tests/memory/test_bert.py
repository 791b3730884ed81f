"""The plain-torch BERT path (memory.bert) gives transformers' tokens and vectors, and
loading the built-in embedder through it does not import transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from memory.bert import BertEncoder, BertTokenizer, plain_bert_config
from memory.embeddings import resolve_embedder_path
from memory.minilm import MeanPoolEmbedder
from tests.memory.texts import UNUSUAL

FOLDER = Path(resolve_embedder_path("all-MiniLM-L6-v2"))
REPO = Path(__file__).resolve().parents[2]

TEXTS = [
    "How many days of paid annual leave do employees get?",
    "",
    "   ",
    "\t\n  ",
    *UNUSUAL,  # accents, scripts, emoji, markup-like and control characters
    "word " * 400,  # 400 tokens: truncated to 256 with [CLS] and [SEP]
    "a" * 1000,  # one long word: WordPiece gives [UNK] or pieces alike
    "x y " * 130,  # 260 tokens, just over the limit
]


@pytest.fixture(scope="module")
def pair() -> tuple[MeanPoolEmbedder, MeanPoolEmbedder]:
    """The lean embedder and the transformers one, from the same folder."""
    lean = MeanPoolEmbedder(FOLDER, "all-MiniLM-L6-v2", 256, batch_size=4)
    ref = MeanPoolEmbedder(FOLDER, "all-MiniLM-L6-v2", 256, batch_size=4, lean=False)
    assert lean.lean and isinstance(lean.model, BertEncoder)
    assert not ref.lean and type(ref.model).__name__ == "BertModel"
    return lean, ref


def test_tokens_equal_transformers(pair: tuple[MeanPoolEmbedder, MeanPoolEmbedder]) -> None:
    lean, ref = pair
    for size in (1, 3, len(TEXTS)):  # batches with and without padding
        for start in range(0, len(TEXTS), size):
            batch = TEXTS[start : start + size]
            ours = lean.tokenizer(batch)
            theirs = ref.tokenizer(
                batch, padding=True, truncation="longest_first", max_length=256,
                return_tensors="pt",
            )  # fmt: skip
            for key in ("input_ids", "attention_mask", "token_type_ids"):
                assert torch.equal(ours[key], theirs[key]), (key, batch)
    long = lean.tokenizer(["word " * 400])["input_ids"]
    assert long.shape == (1, 256) and long[0, 0] == 101 and long[0, -1] == 102
    padded = lean.tokenizer(["a b c", "a"])
    assert padded["attention_mask"].tolist() == [[1] * 5, [1, 1, 1, 0, 0]]
    for text in TEXTS:
        assert lean.count_tokens(text) == ref.count_tokens(text), text
    assert lean.count_tokens("word " * 400) == 400  # counting does not truncate


def test_vectors_equal_transformers(pair: tuple[MeanPoolEmbedder, MeanPoolEmbedder]) -> None:
    lean, ref = pair
    assert (lean.dim, lean.max_tokens) == (ref.dim, ref.max_tokens) == (384, 256)
    ours, theirs = lean.embed(TEXTS), ref.embed(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # a text's vector does not depend on what it is padded against
    alone = np.stack([lean.embed([t])[0] for t in TEXTS[:5]])
    assert np.abs(alone - ours[:5]).max() < 1e-5
    # the last hidden states themselves, padding included in the batch
    enc = ref.tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        want = ref.model(**enc).last_hidden_state
        got = lean.model(**lean.tokenizer(TEXTS))
    real = enc["attention_mask"].bool()
    assert torch.allclose(got[real], want[real], atol=1e-5)
    assert lean.embed([]).shape == (0, 384)


def test_only_plain_bert_folders_take_the_lean_path(tmp_path: Path) -> None:
    assert plain_bert_config(FOLDER) is not None
    assert plain_bert_config(tmp_path) is None
    config = json.loads((FOLDER / "config.json").read_text(encoding="utf-8"))
    for name in ("tokenizer.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"):
        (tmp_path / name).symlink_to(FOLDER / name)
    for change in ({"hidden_act": "gelu_new"}, {"position_embedding_type": "relative_key"},
                   {"model_type": "roberta"}, {"is_decoder": True}):  # fmt: skip
        (tmp_path / "config.json").write_text(json.dumps(config | change))
        assert plain_bert_config(tmp_path) is None, change
    (tmp_path / "config.json").write_text(json.dumps(config | {"hidden_act": "gelu_new"}))
    other = MeanPoolEmbedder(tmp_path, "other", 256)
    assert not other.lean and type(other.model).__name__ == "BertModel"
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert plain_bert_config(tmp_path) is not None
    (tmp_path / "tokenizer.json").unlink()
    assert plain_bert_config(tmp_path) is None


def test_bad_weights_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    (tmp_path / "tokenizer.json").symlink_to(FOLDER / "tokenizer.json")
    (tmp_path / "config.json").symlink_to(FOLDER / "config.json")
    with pytest.raises(ValueError, match="model.safetensors"):
        BertEncoder.from_folder(tmp_path)
    assert BertTokenizer(tmp_path, 8)(["one two"])["input_ids"].shape == (1, 4)


def test_builtin_embedder_loads_without_transformers() -> None:
    code = (
        "import sys\n"
        "from memory.minilm import MeanPoolEmbedder, load_embedder\n"
        "e = load_embedder('all-MiniLM-L6-v2')\n"
        "assert isinstance(e, MeanPoolEmbedder) and e.lean\n"
        "assert e.embed(['annual leave']).shape == (1, 384)\n"
        "assert e.count_tokens('annual leave') == 2\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in\n"
        "         ('transformers', 'sentence_transformers', 'huggingface_hub')]\n"
        "assert not heavy, heavy[:5]\n"
        "assert 'torch._dynamo' not in sys.modules\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
