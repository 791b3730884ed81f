"""Reading the reader's passages ahead of questions (``overlay.answering.ahead``), on the real
model, the built-in reader and the sample docs: every kept head is a prefix of the prompts the
reader is later given, a question's reads start from them, the answers are the ones read
without them, and the memory they take is bounded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import ingest_paths
from memory.embeddings import SentenceEmbedder
from overlay.answering.ahead import (
    passage_prefix,
    reader_windows,
    reading_adapters,
    template_head,
    warm_passages,
)
from overlay.answering.reading import reader_prompt
from overlay.choosing.warm import chunk_texts
from overlay.model.prefix import PASSAGES, PrefixCache
from overlay.services import Services
from overlay.turn import ask

pytestmark = pytest.mark.slow
DOCS = Path(__file__).resolve().parents[3] / "examples" / "docs"
COLL = "docs"
QUESTIONS = [
    "How many days of paid annual leave do employees get?",
    "How do I contact support?",
    "Who founded Halvorsen Instruments?",
    "What is the capital of Peru?",
]


@pytest.fixture(scope="module")
def docs(base_services: Services, minilm: SentenceEmbedder, real_model: Any) -> Iterator[Services]:
    svc = Services(base_services.settings, base_services.redis, base_services.chroma,
                   embedder=minilm, tenant="a" + uuid.uuid4().hex[:12])  # fmt: skip
    svc.use_model(real_model)
    assert ingest_paths(svc, [DOCS], collection=COLL).failed == 0
    yield svc


@pytest.mark.parametrize(
    "question", ["Who?", "2019 revenue?", '"Larger Work" means?', "  why not  ", "Était-ce vrai ?"]
)
def test_a_passage_head_is_where_every_question_starts(docs: Services, question: str) -> None:
    tok = docs.model.tokenizer
    passage = "Every employee receives 27 days of paid annual leave. Unused days carry over."
    head = passage_prefix(tok, passage)
    full = reader_prompt(tok, question, passage)
    assert len(head) > 20 and full[: len(head)] == head and len(full) > len(head)
    assert "Question:" in tok.decode(head) and passage in tok.decode(head)


def _answers(svc: Services) -> list[str]:
    return [ask(svc, q, collection=COLL).answer for q in QUESTIONS]


@contextmanager
def settings(svc: Services, **changes: Any) -> Iterator[Services]:
    before = svc.settings
    svc.settings = before.updated(**changes)
    try:
        yield svc
    finally:
        svc.settings = before


@pytest.fixture
def passages() -> Iterator[PrefixCache]:
    PASSAGES.clear()
    yield PASSAGES
    PASSAGES.clear()


def test_questions_read_from_kept_heads_and_answer_the_same(
    docs: Services, passages: PrefixCache
) -> None:
    ask(docs, "warm up", collection=COLL)  # loads the reader, as the server does at start
    cold = _answers(docs)
    assert passages.stats.lookups == 0  # nothing kept: not even looked up
    windows = list(dict.fromkeys(reader_windows(chunk_texts(docs, [COLL], None))))
    adapters = reading_adapters(docs)
    assert adapters == ["reader-strict", "reader"]  # the judge reads the reader's prompts too
    kept = warm_passages(docs, [COLL], limit=1000)
    assert kept == len(windows) > 5
    assert passages.stats.entries == len(adapters) * (kept + 1)  # + the template's head each
    assert warm_passages(docs, [COLL], limit=1000) == 0  # already kept
    assert passages.stats.lookups == 0  # read ahead, not asked
    assert _answers(docs) == cold
    stats = passages.stats
    assert stats.lookups > 0 and stats.hits == stats.lookups
    assert stats.reused_tokens > stats.prompt_tokens / 2


def test_read_ahead_stays_within_its_bytes_and_limit(docs: Services, passages: PrefixCache) -> None:
    ask(docs, "warm up", collection=COLL)
    windows = list(dict.fromkeys(reader_windows(chunk_texts(docs, [COLL], None))))
    with settings(docs, choose={"view_cache_mb": 8}):
        kept = warm_passages(docs, [COLL], limit=1000)
    assert kept == len(windows) and 0 < passages.nbytes <= 8 << 20
    n = len(reading_adapters(docs))  # the judge's and the reader's
    assert n < passages.stats.entries - n < n * kept  # the least recent went, the heads stayed
    tok, owner = docs.model.tokenizer, next(iter(passages._entries))[0]
    assert passages.get(owner, template_head(tok)) is not None
    assert passages.has(owner, passage_prefix(tok, windows[-1]))  # the newest stayed
    assert not passages.has(owner, passage_prefix(tok, windows[0]))
    passages.clear()
    assert warm_passages(docs, [COLL], limit=3) == 3 == passages.stats.entries / n - 1
    with settings(docs, choose={"view_cache_mb": 0}):
        assert warm_passages(docs, [COLL], limit=3) == 0


def test_nothing_is_read_ahead_for_a_reader_that_does_not_decode(
    docs: Services, passages: PrefixCache
) -> None:
    ask(docs, "warm up", collection=COLL)
    for answer in ({"reader": "head"}, {"mode": "generate"}):
        with settings(docs, answer=answer):
            assert warm_passages(docs, [COLL], limit=10) == 0
    assert passages.stats.entries == 0
