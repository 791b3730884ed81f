"""The view cache: a view's prompt read once and reused by later questions, exactly; only the
bare base's passes kept; bounded in bytes; the batched passes' threads restored after."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from overlay.adapters.registry import AdapterRegistry
from overlay.choosing.scoring import _encode, _encode_prefix, _score_batch, query_logprobs
from overlay.choosing.view_cache import ViewCache
from overlay.model import threads
from tests.adapters_tiny import tiny_base, write_adapter

VIEWS = [
    "employees get 27 days of annual paid leave .",
    "the company was founded in 1987",
    "",
    "what is the price of the product ? the price is 9 .",
]
LAYERS = (1, 2)  # the tiny model's layers: after the first, the last (normed)


def test_a_kept_view_scores_as_the_full_pass_does(tiny_model: Any) -> None:
    """Cold (prompts read and kept) and warm (only the question read) passes give the
    transformers forward's log-probs and span features; the warm one reuses every prompt."""
    tok, model = tiny_model.tokenizer, tiny_model.model
    cache = ViewCache()
    rows = [_encode_prefix(tok, v, True) for v in VIEWS]
    q_ids = _encode(tok, " how many days of paid leave")
    with torch.inference_mode():
        ref, ref_f = _score_batch(model, rows, q_ids, "right", "cpu", LAYERS)
        kw: dict[str, Any] = {"layers": LAYERS, "cache": cache}
        cold_f: list[Any] = []
        cold = query_logprobs(
            model, tok, "how many days of paid leave", VIEWS, features=cold_f, **kw
        )
        warm_f: list[Any] = []
        warm = query_logprobs(
            model, tok, "how many days of paid leave", VIEWS, features=warm_f, **kw
        )
        other = query_logprobs(model, tok, "who founded the company", VIEWS, **kw)
    assert cold == pytest.approx(ref, abs=1e-5) and warm == pytest.approx(ref, abs=1e-5)
    for r, c, w in zip(ref_f, cold_f, warm_f, strict=True):
        assert c.chars == r.chars and w.chars == r.chars
        assert torch.allclose(c.passage, r.passage, atol=1e-5)
        assert torch.allclose(w.question, r.question, atol=1e-5)
    stats = cache.stats()
    assert stats["entries"] == len(VIEWS) and stats["hits"] == 2 * len(VIEWS)  # warm + other
    assert other != pytest.approx(warm, abs=1e-3)  # another question, same kept prompts


def test_an_adapters_passes_are_never_kept(tmp_path: Path) -> None:
    bm = tiny_base(seed=3)
    write_adapter(tmp_path, "terse", bm.model, seed=2)
    reg = AdapterRegistry(bm, tmp_path)
    cache = ViewCache()
    with reg.activate("terse") as model, torch.inference_mode():
        worn = query_logprobs(model, bm.tokenizer, "who founded it ?", VIEWS, cache=cache)
    assert cache.stats()["entries"] == 0
    with reg.activate(None) as model, torch.inference_mode():
        base = query_logprobs(model, bm.tokenizer, "who founded it ?", VIEWS, cache=cache)
        again = query_logprobs(model, bm.tokenizer, "who founded it ?", VIEWS, cache=cache)
    assert cache.stats()["entries"] == len(VIEWS) and again == base
    assert worn != pytest.approx(base, abs=1e-4)  # the adapter's scores are its own


def test_the_cache_keeps_at_most_its_bytes_least_recent_out(tiny_model: Any) -> None:
    tok, model = tiny_model.tokenizer, tiny_model.model
    probe = ViewCache()
    with torch.inference_mode():
        query_logprobs(model, tok, "paid leave", ["employees get paid leave"], cache=probe)
    one = probe.stats()["bytes"]
    cache = ViewCache(max_bytes=int(2.5 * one))  # about two prompts of this length
    with torch.inference_mode():
        for view in ["employees get paid leave", "the company was founded", "what is the price"]:
            query_logprobs(model, tok, "paid leave", [view], cache=cache)
        assert cache.stats()["entries"] == 2
        query_logprobs(
            model, tok, "paid leave", ["employees get paid leave"], cache=cache
        )  # out: a miss
    assert cache.stats()["hits"] == 0
    assert cache.sized(0).stats()["entries"] == 0


@pytest.mark.parametrize("idle, expected", [(1, [2, 1]), (0, [1, 1])])
def test_batched_blocks_take_the_idle_cores_and_restore(
    monkeypatch: pytest.MonkeyPatch, idle: int, expected: list[int]
) -> None:
    """Two batch threads where a core is idle, the caller's one where none is; restored after."""
    seen: list[int] = []
    monkeypatch.setattr(threads, "_batch", {"threads": 2})
    monkeypatch.setattr(threads, "_idle_cores", lambda mine: idle)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threads.batched():
            seen.append(torch.get_num_threads())
        seen.append(torch.get_num_threads())
    finally:
        torch.set_num_threads(before)
    assert seen == expected


def test_idle_cores_read_the_runnable_count(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    busy, calm, bad = (tmp_path / n for n in ("busy", "calm", "bad"))
    busy.write_text(f"3.10 2.50 1.80 {cores + 3}/90 6538\n")
    calm.write_text("0.10 0.20 0.30 1/84 6496\n")
    bad.write_text("garbage\n")
    assert threads._idle_cores(1, str(busy)) == 0
    assert threads._idle_cores(1, str(calm)) == cores - 1
    assert threads._idle_cores(1, str(bad)) == cores - 1  # unknown: every other core
    assert threads._idle_cores(1, str(tmp_path / "missing")) == cores - 1
