"""End to end on the real default model and the bundled sample documents."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ingest.pipeline import ingest_paths
from memory.embeddings import SentenceEmbedder
from memory.errors import InvalidInput
from overlay.answering.answers import ABSTAIN_TEXT
from overlay.choosing.feedback import record_feedback
from overlay.model.decode import Decoding
from overlay.services import Services
from overlay.turn import ask, retrieve

pytestmark = pytest.mark.slow
DOCS = Path(__file__).resolve().parents[2] / "examples" / "docs"
COLL = "docs"


def _services(base: Services, minilm: SentenceEmbedder, real_model: Any, tenant: str) -> Services:
    svc = Services(base.settings, base.redis, base.chroma, embedder=minilm, tenant=tenant)
    svc.use_model(real_model)
    return svc


@pytest.fixture(scope="module")
def docs(base_services: Services, minilm: SentenceEmbedder, real_model: Any) -> Iterator[Services]:
    svc = _services(base_services, minilm, real_model, "e" + uuid.uuid4().hex[:12])
    report = ingest_paths(svc, [DOCS], collection=COLL)
    assert report.failed == 0
    yield svc


def _source(d: dict[str, Any]) -> str:
    return Path(d["source"]).name


def test_answerable_question_is_answered_with_the_right_citation(docs: Services) -> None:
    out = ask(docs, "How many days of paid annual leave do employees get?", collection=COLL,
              mode="choose").to_dict()  # fmt: skip
    assert not out["abstained"] and "27" in out["answer"] and "[1]" in out["answer"]
    assert [_source(c) for c in out["citations"]] == ["handbook.md"]
    assert "27 days" in out["citations"][0]["text"] and 0 < out["citations"][0]["score"] <= 1
    assert set(out["timings_ms"]) == {"retrieve", "choose", "generate", "total"}
    assert out["turn_id"] and out["adapter"] is None


def test_founder_question_cites_the_history(docs: Services) -> None:
    out = ask(docs, "Who founded Halvorsen Instruments?", collection=COLL, mode="choose")
    assert not out.abstained and "Ingrid Halvorsen" in out.answer
    assert _source(out.to_dict()["citations"][0]) == "history.txt"


def test_absent_topic_abstains(docs: Services) -> None:
    out = ask(docs, "What is the capital of Peru?", collection=COLL, mode="choose").to_dict()
    assert out["abstained"] and out["answer"] == ABSTAIN_TEXT and out["citations"] == []
    assert out["abstained_by"] == "threshold"  # choose mode: no gate, the score's floor


def test_generate_mode_is_grounded_and_cites_given_passages(docs: Services) -> None:
    out = ask(docs, "How much does the T-40 weigh?", collection=COLL, mode="generate",
              decoding=Decoding(max_new_tokens=24))  # fmt: skip
    assert not out.abstained and "640" in out.answer
    assert out.citations and all(_source(c.hit.to_dict()) == "products.md" for c in out.citations)
    assert out.timings_ms["generate"] > 0


def test_retrieve_chosen_and_feedback(docs: Services) -> None:
    q = "When was the Lumen L-2 data logger released?"
    hits = retrieve(docs, q, COLL, k=3, method="chosen")
    assert Path(hits[0].source).name == "products.md"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert "model_score" in hits[0].metadata
    turn = ask(docs, q, collection=COLL, mode="choose")
    assert "March 2019" in turn.answer
    result = record_feedback(docs, turn.turn_id, helpful=True)
    assert result.candidates == [turn.citations[0].hit.id]
    with pytest.raises(InvalidInput):
        ask(docs, "  ", collection=COLL)


def test_ask_cli_json(
    base_services: Services, minilm: SentenceEmbedder, real_model: Any, data_dir: Path
) -> None:
    from overlay.cli import _register, app

    coll = "cli" + uuid.uuid4().hex[:8]
    ingest_paths(_services(base_services, minilm, real_model, "local"), [DOCS], collection=coll)
    _register()
    env = {
        "OVERLAY_DATA_DIR": str(data_dir),
        "OVERLAY_MODELS_DIR": str(models_dir(base_services)),
    }
    args = [
        "ask",
        "Who is the chief executive?",
        "--collection",
        coll,
        "--mode",
        "choose",
        "--json",
    ]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"answer", "abstained", "citations", "adapter", "timings_ms"} <= set(out)
    assert "Tomas Eriksen" in out["answer"] and _source(out["citations"][0]) == "history.txt"


def models_dir(base: Services) -> Path:
    return base.settings.models_path
