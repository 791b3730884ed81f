"""Warming the view cache: prompts read before any question are the ones a question's pass
would read (same key, same numbers), only chunks that are their own view, never more than
asked or than half the cache, and never while a turn is waiting."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch

from ingest.pipeline import ingest_text
from overlay.choosing.chooser import candidate_views, query_scores
from overlay.choosing.scoring import (
    _encode,
    _encode_prefix,
    _score_batch,
    keep_views,
    query_logprobs,
)
from overlay.choosing.view_cache import VIEWS, ViewCache
from overlay.choosing.views import windows
from overlay.choosing.warm import chunk_views, warm_views
from overlay.services import Services

SHORT = [
    "employees get 27 days of annual paid leave .",
    "the company was founded in 1987 .",
    "support is a product of the company .",
]
LONG = " ".join(f"The price of product {n} is {n} ." for n in range(10))  # > 64 tokens


def test_kept_views_serve_the_first_question_exactly(tiny_model: Any) -> None:
    tok, model = tiny_model.tokenizer, tiny_model.model
    cache = ViewCache()
    views = ["", *SHORT]
    with torch.inference_mode():
        assert keep_views(model, tok, views, (1, 2), cache) == len(views)
        assert keep_views(model, tok, views, (1, 2), cache) == 0  # already kept
        assert cache.stats()["lookups"] == 0 and cache.stats()["warmed"] == len(views)
        rows = [_encode_prefix(tok, v, True) for v in views]
        q = "how many days of paid leave"
        ref, _ = _score_batch(model, rows, _encode(tok, " " + q), "right", "cpu", (1, 2))
        first = query_logprobs(model, tok, q, views, layers=(1, 2), cache=cache)
    assert first == pytest.approx(ref, abs=1e-5)
    assert cache.stats()["hits"] == len(views) == cache.stats()["lookups"]


@pytest.fixture
def svc(services: Services, tiny_model: Any) -> Services:
    s = Services(services.settings, services.redis, services.chroma, services.embedder,
                 tenant=services.tenant)  # fmt: skip
    s.use_model(tiny_model)
    for i, text in enumerate([*SHORT, LONG]):
        ingest_text(s, f"doc{i}.txt", text, collection="warm")
    return s


def test_every_window_of_every_chunk_is_warmed_once(svc: Services) -> None:
    n, count = svc.settings.choose.view_tokens, svc.count_tokens
    long_windows = windows(LONG, n, count)
    assert len(long_windows) > 1  # the long chunk's views: its windows
    views = chunk_views(svc, ["warm"], 100, None)
    assert sorted(views) == sorted([*SHORT, *long_windows])
    assert len(chunk_views(svc, ["warm"], 2, None)) == 2
    assert chunk_views(svc, ["warm"], 10, {"source": "doc1.txt"}) == [SHORT[1]]
    hits = svc.vectors("warm").get()  # what a question's pass reads is among them
    assert set(candidate_views(svc, "what is the price of product 7", hits)) <= set(views)


def test_warming_fills_the_cache_and_the_question_reads_it(svc: Services) -> None:
    VIEWS.clear()
    read = warm_views(svc, ["warm"], limit=100, batch=2)
    assert read == len(chunk_views(svc, ["warm"], 100, None)) + 1  # + the baseline
    hits = svc.vectors("warm").get()
    before = VIEWS.stats()
    query_scores(svc, "what is the price of product 7", hits)
    after = VIEWS.stats()
    assert after["lookups"] - before["lookups"] == len(hits) + 1
    assert after["hits"] - before["hits"] == len(hits) + 1


def test_warming_waits_for_idle_and_stops(svc: Services) -> None:
    VIEWS.clear()
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    assert warm_views(svc, ["warm"], limit=10, idle=lambda: False, stop=stop) == 0
    assert VIEWS.stats()["entries"] == 0
    off = svc.settings.updated(choose={**svc.settings.choose.model_dump(), "view_cache_mb": 0})
    plain = Services(off, svc.redis, svc.chroma, svc.embedder, tenant=svc.tenant)
    assert warm_views(plain, ["warm"], limit=10) == 0


def test_warming_leaves_half_the_cache_to_questions(svc: Services) -> None:
    probe = ViewCache()
    with svc.run_model(None) as model:
        keep_views(model, svc.model.tokenizer, SHORT, (), probe)
    largest = max(e.nbytes for e in probe._entries.values())
    cache = ViewCache(max_bytes=int(4.5 * largest))
    warm_views(svc, ["warm"], limit=10, batch=1, cache=cache)  # 4 prompts, the baseline too
    stats = cache.stats()
    assert 2 <= stats["entries"] < len(chunk_views(svc, ["warm"], 100, None)) + 1
    assert stats["bytes"] - largest <= cache.max_bytes // 2  # stopped once past half
