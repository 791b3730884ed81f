"""A request is checked once, at the library's entry, before anything is logged or created:
``overlay.request.resolve`` and the ``overlay.turn`` entries that call it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.chat_responses import ChatResponse, TurnInfo
from api.schemas import COLLECTION, ChatRequest, RetrieveRequest
from ingest.pipeline import ingest_text
from memory.errors import AdapterNotFound, CollectionNotFound, InvalidInput, TooLarge
from memory.types import Hit
from overlay.choosing.fusion import Scored
from overlay.knobs import MAX_K
from overlay.request import COLLECTION_PATTERN, MODES, TurnRequest, resolve, resolve_retrieve
from overlay.services import Services
from overlay.turn import Answer, ask, retrieve
from tests.apiserver import make_app


def _chroma_names(services: Services) -> list[str]:
    return sorted(services.chroma.logical_names(f"{services.tenant}."))


def test_resolve_fills_defaults_and_checks_every_value(services: Services) -> None:
    req = resolve(services, "How many days?")
    s = services.settings
    assert req == TurnRequest("How many days?", s.collection, s.retrieve.top_k, s.answer.mode)
    with pytest.raises(AttributeError):
        req.text = "changed"  # type: ignore[misc]  # frozen
    bad: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"text": "  "}, InvalidInput, "empty"),
        ({"text": "x" * (s.api.max_message_chars + 1)}, TooLarge, "the limit is"),
        ({"mode": "shout"}, InvalidInput, "read, choose, generate"),
        ({"k": 0}, InvalidInput, f"between 1 and {MAX_K}"),
        ({"k": MAX_K + 1}, InvalidInput, f"between 1 and {MAX_K}"),
        ({"collection": "a b"}, InvalidInput, "invalid collection"),
        ({"collection": "nope"}, CollectionNotFound, "this tenant has: default"),
        ({"adapter": "ghost"}, AdapterNotFound, "available adapters: "),
        ({"adapter": "../etc"}, InvalidInput, "adapter"),
    ]
    for kwargs, error, words in bad:
        text = kwargs.pop("text", "hi")
        with pytest.raises(error, match=words):
            resolve(services, text, **kwargs)
    assert resolve(services, "hi", adapter="reader").adapter == "reader"  # a built-in, on disk
    with pytest.raises(InvalidInput, match="unknown method"):
        resolve_retrieve(services, "hi", method="magic")


def test_the_api_takes_its_rules_from_the_library() -> None:
    assert COLLECTION == COLLECTION_PATTERN
    assert ChatRequest.model_fields["k"].metadata[-1].le == MAX_K  # type: ignore[attr-defined]
    assert RetrieveRequest.model_fields["k"].metadata[-1].le == MAX_K  # type: ignore[attr-defined]
    schema = ChatRequest.model_json_schema()["properties"]["mode"]["anyOf"][0]
    assert tuple(schema["enum"]) == MODES
    from overlay.commands import retrieve as cli

    assert cli.MAX_K == MAX_K


def test_a_refused_turn_logs_nothing(services: Services) -> None:
    for kwargs in ({"adapter": "no-such-adapter"}, {"collection": "typo"}, {"k": 1000}):
        with pytest.raises((AdapterNotFound, CollectionNotFound, InvalidInput)):
            ask(services, "Remember that my name is Ada.", session="s-refused", **kwargs)
    assert not services.session_memory.exists("s-refused")
    assert _chroma_names(services) == []


def test_reads_never_create_a_collection(services: Services) -> None:
    ingest_text(services, "a.txt", "Employees get 27 days of paid annual leave.", collection="docs")
    before = _chroma_names(services)
    assert before == [f"{services.tenant}.docs"]
    for method in ("dense", "sparse", "hybrid", "chosen"):
        with pytest.raises(CollectionNotFound, match="default, docs"):
            retrieve(services, "leave", "junk", method=method)
    with pytest.raises(CollectionNotFound):
        ask(services, "leave?", collection="junk")
    store = services.vectors("junk2")  # the store's own reads: empty, and nothing created
    assert store.search("leave", 5) == [] and store.get() == [] and store.count() == 0
    assert store.ids() == [] and store.score(["x"], np.ones(store.embedder.dim)) == []
    store.delete(ids=["x"])
    assert _chroma_names(services) == before
    assert services.collections() == ["default", "docs"]


def test_delete_of_an_unknown_collection_creates_nothing(services: Services) -> None:
    with TestClient(make_app(services)) as client:
        before = client.get("/v1/collections").json()["collections"]
        for _ in range(2):
            r = client.delete("/v1/documents", params={"source": "x", "collection": "junk1"})
            assert r.status_code == 404 and r.json()["error"]["type"] == "source_not_found"
        assert client.get("/v1/collections").json()["collections"] == before == ["default"]
    assert _chroma_names(services) == []


def _answer() -> Answer:
    hit = Hit("c1", "Leave.\nEmployees get 27 days.", 0.9, "leave.txt")
    cite = Scored(hit, rank=0, model=0.8, learned=0.0, evidence=0.8, score=0.81234)
    other = Scored(Hit("c2", "Staff.", 0.5, "staff.txt"), 1, 0.1, 0.0, 0.1, 0.1)
    return Answer(
        question="How many days?", answer="27 days", abstained=False, citations=[cite, other],
        quote="Employees get 27 days.",
        adapter=None, mode="read", collection="default", session="s1",
        timings_ms={"total": 12.34}, turn_id="t1", kind="span", prompt_tokens=40,
        completion_tokens=3, retrieval_query="How many days?",
    )  # fmt: skip


def test_one_record_for_the_cli_json_and_the_api() -> None:
    with pytest.raises(TypeError):
        Answer("q", "a", False, [], None, "read", "default", {})  # type: ignore[misc]
    record = _answer().to_dict()
    native = ChatResponse.of(_answer(), "body").model_dump()
    info = TurnInfo.of(_answer(), "body").model_dump()
    for shape in (native, info):
        assert set(shape) - {"session_source"} <= set(record)  # the API adds where it came from
        assert {k: v for k, v in shape.items() if k != "session_source"} == {
            k: record[k] for k in shape if k != "session_source"
        }
    assert record["citations"] == [  # the sentence the answer rests on: the first's quote
        {"id": "c1", "source": "leave.txt", "text": "Leave.\nEmployees get 27 days.",
         "score": 0.8123, "quote": "Employees get 27 days."},
        {"id": "c2", "source": "staff.txt", "text": "Staff.", "score": 0.1, "quote": None},
    ]  # fmt: skip
    assert record["usage"] == {"prompt_tokens": 40, "completion_tokens": 3, "total_tokens": 43}
    assert record["session_id"] == "s1" and record["answer_kind"] == "span"
