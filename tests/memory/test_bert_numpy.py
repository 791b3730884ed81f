"""The numpy encoder (memory.bert_numpy) gives the torch encoder's vectors and neighbours, and
``runtime="auto"`` embeds a query without importing torch."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from memory.embeddings import resolve_embedder_path
from memory.minilm import NUMPY_MAX_TEXTS, MeanPoolEmbedder, load_embedder
from overlay.services import Services
from tests.memory.texts import UNUSUAL

FOLDER = Path(resolve_embedder_path("all-MiniLM-L6-v2"))
REPO = Path(__file__).resolve().parents[2]

TEXTS = [
    "How many days of paid annual leave do employees get?",
    "Parental leave is 20 weeks at full pay for every parent.",
    "Core hours are from 10:00 to 15:00, Monday to Thursday.",
    "No internal meetings may be scheduled on a Friday.",
    "New staff choose between a 14-inch or a 16-inch laptop.",
    "The equipment desk is in room B-112.",
    "Halvorsen Instruments was founded in 1987 in Bergen.",
    "What does the premium support plan cost per month?",
    "Returns are accepted within 30 days with a receipt.",
    "The sensor reads temperatures from -40 to 125 degrees Celsius.",
    "Which office handles customers in Germany?",
    "Our products ship with a two-year warranty.",
    "",
    "   ",
    "a",
    *UNUSUAL,  # accents, scripts, emoji, markup-like and control characters
    "word " * 400,  # truncated to 256 tokens
    "x y " * 130,  # just over the limit
    "the quick brown fox jumps over the lazy dog " * 5,
    "SELECT * FROM users WHERE id = 42;",
    "def f(x):\n    return x ** 2\n",
    "Is the Bergen office open on public holidays?",
    "How do I reset my password?",
    "Shipping to Norway takes three to five working days.",
    "The API rate limit is 100 requests per minute per key.",
    "Carried-over leave days expire on 31 March.",
    "Every employee receives 27 days of paid annual leave.",
]


@pytest.fixture(scope="module")
def runtimes() -> tuple[MeanPoolEmbedder, MeanPoolEmbedder]:
    """The same folder through numpy and through torch."""
    fast = MeanPoolEmbedder(FOLDER, "all-MiniLM-L6-v2", 256, batch_size=8, runtime="numpy")
    ref = MeanPoolEmbedder(FOLDER, "all-MiniLM-L6-v2", 256, batch_size=8, runtime="torch")
    assert fast.uses_numpy(len(TEXTS)) and not ref.uses_numpy(1)
    return fast, ref


def test_numpy_vectors_equal_torch(runtimes: tuple[MeanPoolEmbedder, MeanPoolEmbedder]) -> None:
    fast, ref = runtimes
    ours, theirs = fast.embed(TEXTS), ref.embed(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosine.min() >= 0.9999, cosine.min()
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    alone = np.stack([fast.embed([t])[0] for t in TEXTS[:6]])  # unpadded, one BLAS thread
    assert np.abs(alone - theirs[:6]).max() < 1e-5
    assert fast.embed([]).shape == (0, 384)
    # the hidden states themselves, padding included
    import torch

    from memory.bert_numpy import NumpyBertEncoder

    enc = fast.tokenizer.arrays(TEXTS)
    got = NumpyBertEncoder.from_folder(FOLDER)(**enc)
    with torch.inference_mode():
        want = ref.model(**{k: torch.from_numpy(v) for k, v in enc.items()}).numpy()
    real = enc["attention_mask"].astype(bool)
    assert np.abs(got[real] - want[real]).max() < 1e-5


def test_numpy_queries_find_the_torch_neighbours(
    base_services: Services, runtimes: tuple[MeanPoolEmbedder, MeanPoolEmbedder]
) -> None:
    """Documents embedded by torch (ingestion), queried through either runtime: same top-k."""
    fast, ref = runtimes
    tenant = "q" + uuid.uuid4().hex[:12]
    s = base_services
    ingest = Services(s.settings, s.redis, s.chroma, embedder=ref, tenant=tenant)
    docs = [t for t in TEXTS if t.strip()]
    ids = [f"d{i}" for i in range(len(docs))]
    ingest.vectors("default").add(ids, docs, [{"source": "t"}] * len(docs))
    asked = Services(s.settings, s.redis, s.chroma, embedder=fast, tenant=tenant)
    try:
        for query in ("annual leave days", "laptop choice", "when was the company founded",
                      "support price", "password reset", "leave for new parents"):  # fmt: skip
            want = [h.id for h in ingest.vectors("default").search(query, 5)]
            got = [h.id for h in asked.vectors("default").search(query, 5)]
            assert got == want, query
    finally:
        ingest.vectors("default").drop()


def test_auto_embeds_queries_without_torch_and_batches_with_it() -> None:
    code = (
        "import sys\n"
        "from memory.minilm import load_embedder\n"
        "e = load_embedder('all-MiniLM-L6-v2')\n"
        "one = e.embed(['annual leave'])\n"
        "assert 'torch' not in sys.modules, 'a query imported torch'\n"
        f"many = e.embed(['annual leave'] + ['filler text'] * {NUMPY_MAX_TEXTS})\n"
        "assert 'torch' in sys.modules, 'a big batch stayed in numpy'\n"
        "assert abs(many[0] - one[0]).max() < 1e-5\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_auto_takes_torch_where_torch_is_loaded_and_refuses_unknown_runtimes() -> None:
    import torch  # noqa: F401  (loaded, as in `overlay serve`)

    e = load_embedder("all-MiniLM-L6-v2", runtime="auto")
    assert isinstance(e, MeanPoolEmbedder) and not e.uses_numpy(1)
    from memory.errors import InvalidInput

    with pytest.raises(InvalidInput, match="runtime"):
        MeanPoolEmbedder(FOLDER, "x", 256, runtime="onnx")
