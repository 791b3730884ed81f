"""Read mode (the default) end to end on the real model, the built-in reader and the sample docs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import ingest_paths
from memory.embeddings import SentenceEmbedder
from overlay.answering.answers import ABSTAIN_TEXT
from overlay.choosing.abstain import load_gate
from overlay.model.decode import Decoding
from overlay.services import Services
from overlay.turn import ask

pytestmark = pytest.mark.slow
DOCS = Path(__file__).resolve().parents[2] / "examples" / "docs"
COLL = "docs"


@pytest.fixture(scope="module")
def docs(base_services: Services, minilm: SentenceEmbedder, real_model: Any) -> Iterator[Services]:
    tenant = "r" + uuid.uuid4().hex[:12]
    svc = Services(base_services.settings, base_services.redis, base_services.chroma,
                   embedder=minilm, tenant=tenant)  # fmt: skip
    svc.use_model(real_model)
    assert ingest_paths(svc, [DOCS], collection=COLL).failed == 0
    yield svc


@pytest.mark.parametrize(
    ("question", "expected", "source"),
    [
        ("How many days of paid annual leave do employees get?", "27", "handbook.md"),
        ("Who founded Halvorsen Instruments?", "Halvorsen", "history.txt"),
    ],
)
def test_default_mode_answers_with_a_short_streamed_span(
    docs: Services, question: str, expected: str, source: str
) -> None:
    pieces: list[str] = []
    out = ask(docs, question, collection=COLL, on_text=pieces.append)
    assert out.mode == "read" and out.kind == "span" and not out.abstained
    assert expected in out.answer and out.answer.endswith("[1]")
    assert len(out.answer.split()) <= 8  # a span, not a sentence
    assert Path(out.citations[0].hit.source).name == source
    body = out.answer.rsplit(" [", 1)[0]
    assert body in out.citations[0].hit.text  # the passage's own words
    assert "".join(pieces) == out.answer
    # one scoring pass chose (and the span head read it); the reader adapter wrote a few tokens
    assert out.prompt_tokens > out.completion_tokens > 0


def test_default_mode_abstains_off_corpus(docs: Services) -> None:
    pieces: list[str] = []
    out = ask(docs, "What is the capital of Peru?", collection=COLL, on_text=pieces.append)
    assert out.abstained and out.kind == "abstained" and out.answer == ABSTAIN_TEXT
    assert out.completion_tokens == 0 and "".join(pieces) == ABSTAIN_TEXT
    assert out.abstained_by == "gate" and out.to_dict()["abstained_by"] == "gate"  # it says why


def test_the_answer_gate_decides_and_can_be_turned_off(docs: Services) -> None:
    gate = load_gate()
    assert gate is not None
    answered = ask(docs, "Who founded Halvorsen Instruments?", collection=COLL)
    off = ask(docs, "What is the capital of Peru?", collection=COLL)
    # the gate's probability was computed on the real choosing pass and decided both turns
    assert answered.choice.notes["gate"] >= gate.threshold > off.choice.notes["gate"]
    assert answered.abstained_by is None and off.abstained_by == "gate"
    base = docs.settings
    docs.settings = base.updated(answer={**base.answer.model_dump(), "gate": False})
    try:
        floor = ask(docs, "Who founded Halvorsen Instruments?", collection=COLL)
    finally:
        docs.settings = base
    assert "gate" not in floor.choice.notes and "Halvorsen" in floor.answer


def test_user_adapter_scores_and_the_reader_reads(docs: Services) -> None:
    out = ask(docs, "How many days of paid annual leave do employees get?", collection=COLL,
              adapter="reader")  # fmt: skip
    assert out.adapter == "reader" and "27" in out.answer
    assert out.completion_tokens > 0  # its own adapter scored: the reader adapter decoded


def test_generate_streams_only_checked_sentences(docs: Services) -> None:
    pieces: list[str] = []
    out = ask(docs, "How much does the T-40 weigh?", collection=COLL, mode="generate",
              decoding=Decoding(max_new_tokens=40), on_text=pieces.append)  # fmt: skip
    assert out.kind in ("generated", "fallback") and out.completion_tokens > 0
    assert "".join(pieces) == out.answer  # nothing sent was later replaced


def test_a_how_question_is_answered_with_its_whole_sentence(docs: Services) -> None:
    out = ask(docs, "How do I contact support?", collection=COLL)
    assert not out.abstained and out.kind == "sentence"
    assert "phone" in out.answer and out.answer.endswith("[1]")
    assert Path(out.citations[0].hit.source).name == "support.html"
    assert out.answer.rsplit(" [", 1)[0] in " ".join(out.citations[0].hit.text.split())


@pytest.mark.parametrize(
    "question",
    [
        "Who founded Halvorsen Instruments?",
        "How long is parental leave?",
        "Where is the equipment desk?",
    ],
)
def test_every_marker_numbers_a_citation_returned(docs: Services, question: str) -> None:
    out = ask(docs, question, collection=COLL)
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", out.answer)]
    assert markers and all(1 <= m <= len(out.citations) for m in markers)
    assert markers[0] == 1  # the passage read is the first citation shown


def test_an_answer_of_the_wrong_kind_is_no_answer(docs: Services) -> None:
    # the sample docs give the K-9's wind range and the T-40's weight, never a price: the
    # reader's "640 grams" is no price, so the turn abstains and cites nothing
    pieces: list[str] = []
    out = ask(docs, "How much does the Kestrel K-9 cost?", collection=COLL, on_text=pieces.append)
    assert out.abstained and out.kind == "abstained" and out.answer == ABSTAIN_TEXT
    assert out.citations == [] and "".join(pieces) == ABSTAIN_TEXT
    assert out.abstained_by == "wrong_kind"  # the gate passed it: the reader's span did not fit
    weight = ask(docs, "How much does the T-40 weigh?", collection=COLL)
    assert not weight.abstained and "640 grams" in weight.answer


@pytest.mark.parametrize(
    ("setting", "variable"),
    [("reader_judge", "OVERLAY_ANSWER__READER_JUDGE"),
     ("reader_adapter", "OVERLAY_ANSWER__READER_ADAPTER")],
)  # fmt: skip
def test_a_reading_adapter_the_settings_name_but_that_is_not_installed_is_a_clear_error(
    docs: Services, setting: str, variable: str
) -> None:
    from memory.errors import Misconfigured
    from overlay.answering.ahead import load_reader

    base = docs.settings
    docs.settings = base.updated(answer={**base.answer.model_dump(), setting: "nope"})
    try:
        with pytest.raises(Misconfigured) as failed:
            ask(docs, "How long is parental leave?", collection=COLL)
        with pytest.raises(Misconfigured):  # the server's start says so too (it logs it)
            load_reader(docs)
    finally:
        docs.settings = base
    err = failed.value
    assert err.status_code == 503 and "misconfigured" in err.message and "nope" not in err.message
    assert "'nope'" in err.detail and variable in err.detail  # the log's: the setting to change
    assert "20 weeks" in ask(docs, "How long is parental leave?", collection=COLL).answer
