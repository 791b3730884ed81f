"""The typed API edge: every non-chat route documents its response model in OpenAPI, and
on real stores sends exactly the library's own shape (what the CLI's ``--json`` prints),
so a model that dropped or renamed a field fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel

from api import chat_responses, responses, schemas
from ingest.pipeline import list_sources
from ingest.types import SourceResult
from memory.sessions.when import resolve_times
from overlay import remembering
from overlay.adapters.builtin import list_all
from overlay.choosing.feedback import learned_boosts, record_turn
from overlay.services import Services
from overlay.turn import retrieve
from tests.adapters_tiny import tiny_base, write_adapter
from tests.apiserver import make_app

NOT_JSON = {  # Prometheus text, a session's JSON lines (the chat page is not in the schema)
    "/metrics": "text/plain",
    "/v1/sessions/{session_id}/export": "application/x-ndjson",
}
LEAVE = "Employees get 27 days of paid annual leave. Leave requests go through the HR portal."


def _models(spec: dict[str, Any]) -> dict[tuple[str, str], type[BaseModel] | None]:
    """(METHOD, path template) → the model its 200 response documents (None: not JSON)."""
    out: dict[tuple[str, str], type[BaseModel] | None] = {}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            schema = op["responses"]["200"]["content"].get("application/json", {}).get("schema")
            name = schema["$ref"].rsplit("/", 1)[-1] if schema and "$ref" in schema else ""
            found = [getattr(m, name, None) for m in (responses, schemas, chat_responses)]
            out[method.upper(), path] = next((m for m in found if m is not None), None)
    return out


def test_openapi_documents_every_response(services: Services) -> None:
    spec = make_app(services).openapi()
    models = _models(spec)
    assert len(models) >= 22
    for (method, path), model in models.items():
        ok = spec["paths"][path][method.lower()]["responses"]["200"]["content"]
        if path in NOT_JSON:
            assert set(ok) == {NOT_JSON[path]} and model is None, (path, ok)
            continue
        assert model is not None, (method, path, ok)
        schema = spec["components"]["schemas"][model.__name__]
        assert schema["properties"] and schema["required"], (method, path)
    ready = spec["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert ready["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


class _Caller:
    """Calls a route by its path template and returns the body of its 200 answer."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def __call__(self, method: str, template: str, **kw: Any) -> Any:
        path = template.format(**kw.pop("path", {}))
        resp = self.client.request(method, path, **kw)
        assert resp.status_code == 200, (method, path, resp.text)
        return resp.json()


def test_documents_and_retrieval_send_the_library_shapes(services: Services) -> None:
    app = make_app(services)
    with TestClient(app) as client:
        call = _Caller(client)
        doc = {"source": "leave.txt", "text": LEAVE, "collection": "docs"}
        new = call("POST", "/v1/documents", json=doc)
        assert new["collection"] == "docs" and new["document"]["status"] == "new"
        assert set(new["document"]) == set(SourceResult("x", "new").to_dict())
        listed = call("GET", "/v1/documents", params={"collection": "docs"})
        assert listed["documents"] == [s.to_dict() for s in list_sources(services, "docs")]
        assert listed["documents"][0]["source"] == "leave.txt"
        query = {"query": "paid leave", "collection": "docs", "k": 3}
        hits = call("POST", "/v1/retrieve", json=query)
        expected = retrieve(services, "paid leave", collection="docs", k=3, method="hybrid")
        rows = [h.to_dict() for h in expected]
        assert hits == {"query": "paid leave", "method": "hybrid", "results": rows}
        assert rows[0]["source"] == "leave.txt"
        remove = {"source": "leave.txt", "collection": "docs"}
        gone = call("DELETE", "/v1/documents", params=remove)
        assert gone == {"collection": "docs", "removed": listed["documents"][0]}


def test_sessions_send_the_library_shapes(services: Services) -> None:
    app = make_app(services)
    with TestClient(app) as client:
        call = _Caller(client)
        sid = {"session_id": "typed-1"}
        turns = [{"role": "user", "content": "My name is Ada. I live in Oslo."},
                 {"role": "assistant", "content": "Hello Ada."},
                 {"role": "user", "content": "Actually, call me Bob."}]  # fmt: skip
        added = call("POST", "/v1/sessions/{session_id}/turns", path=sid, json={"turns": turns})
        assert added == {"session_id": "typed-1", "added": 3}
        shown = call("GET", "/v1/sessions/{session_id}", path=sid)
        assert shown == remembering.show_session(services, "typed-1")
        name = next(f for f in shown["facts"] if f["key"] == "name")
        assert name["value"] == "Bob" and [h["value"] for h in name["history"]] == ["Ada"]
        q = {"q": "what is my name", "k": 3}
        memories = call("GET", "/v1/sessions/{session_id}/memory", path=sid, params=q)
        found = remembering.memory_search(services, "typed-1", "what is my name", 3)
        library = [*map(remembering.memory_result, found)]  # the CLI's --json shape
        sent = [{k: v for k, v in r.items() if v is not None or k == "ts"}
                for r in memories["results"]]  # fmt: skip
        assert memories["session_id"] == "typed-1" and sent == library
        assert library[0]["kind"] == "fact" and "Bob" in library[0]["text"]
        assert library[0]["key"] == "name" and library[0]["value"] == "Bob"
        assert "Ada" in library[0]["history"]  # the fact's earlier value travels too
        fact = {"key": "favourite colour", "value": "green"}
        set_ = call("POST", "/v1/sessions/{session_id}/facts", path=sid, json=fact)
        assert set_["fact"]["history_line"] == "favourite colour: green"
        facts = call("GET", "/v1/sessions/{session_id}/facts", path=sid)
        stored = remembering.session_facts(services, "typed-1")
        assert facts == {"session_id": "typed-1", "facts": [*map(remembering.fact_result, stored)]}
        assert set_["fact"] in facts["facts"]
        forgotten = call("DELETE", "/v1/sessions/{session_id}", path=sid)
        assert forgotten == {"session_id": "typed-1", "forgotten": True}


def test_session_export_import_and_edits_send_the_library_shapes(services: Services) -> None:
    said, dog = 1_686_300_000.0, "Last week I adopted a dog called Rex."  # said 9 June 2023
    lines = [
        {"kind": "session", "format": 1, "user": None},
        {
            "kind": "turn",
            "id": 0,
            "role": "user",
            "text": dog,
            "ts": said,
            "speaker": "Caroline",
            "when": resolve_times(dog, said),
        },
        {"kind": "turn", "id": 1, "role": "user", "text": "My name is Ada.", "ts": said},
    ]
    body = "\n".join(json.dumps(x) for x in lines).encode()
    with TestClient(make_app(services)) as client:
        call = _Caller(client)
        sid, copy = {"session_id": "typed-2"}, {"session_id": "typed-3"}
        got = call("POST", "/v1/sessions/{session_id}/import", path=sid, content=body)
        assert got == {"session_id": "typed-2", "turns": 2, "facts": 0}
        city = {"key": "city", "value": "Oslo"}
        call("POST", "/v1/sessions/{session_id}/facts", path=sid, json=city)
        exported = client.get("/v1/sessions/typed-2/export")
        assert exported.headers["content-type"].startswith("application/x-ndjson")
        assert exported.text == "\n".join(remembering.export_session(services, "typed-2")) + "\n"
        body = exported.content
        again = call("POST", "/v1/sessions/{session_id}/import", path=copy, content=body)
        assert again == {"session_id": "typed-3", "turns": 2, "facts": 1}
        assert client.get("/v1/sessions/typed-3/export").text == exported.text
        shown = call("GET", "/v1/sessions/{session_id}", path=copy)
        assert shown == remembering.show_session(services, "typed-3")  # speaker, when kept
        first = shown["turns"][0]
        assert first["speaker"] == "Caroline" and first["when"][0]["text"] == "Last week"
        key, value = {**copy, "key": "city"}, {"value": "Bergen"}
        fixed = call("PATCH", "/v1/sessions/{session_id}/facts/{key}", path=key, json=value)
        stored = remembering.session_facts(services, "typed-3")
        assert fixed == {"session_id": "typed-3", "fact": remembering.fact_result(stored[0])}
        assert fixed["fact"]["history_line"] == "city: Oslo → Bergen"
        gone = call("DELETE", "/v1/sessions/{session_id}/facts/{key}", path=key)
        assert gone == {"session_id": "typed-3", "forgotten": True}
        assert remembering.session_facts(services, "typed-3") == []
        turn = {**copy, "turn_id": 0}
        removed = call("DELETE", "/v1/sessions/{session_id}/turns/{turn_id}", path=turn)
        assert removed == {"session_id": "typed-3", "removed": first}
        assert [t["id"] for t in remembering.show_session(services, "typed-3")["turns"]] == [1]


def test_facts_feedback_adapters_and_ops_send_the_library_shapes(
    services: Services, tmp_path: Path
) -> None:
    base = tiny_base().model
    write_adapter(tmp_path, "reader", base, rank=4)
    write_adapter(tmp_path, "broken", base, rank=4)
    (tmp_path / "broken" / "adapter_config.json").write_text("{not json")
    app = make_app(services, adapters_dir=tmp_path)
    with TestClient(app) as client:
        call = _Caller(client)
        taught = {"subject": "Halvorsen", "relation": "support phone", "object": "+47 555"}
        fact = call("POST", "/v1/facts", json=taught)["fact"]
        listed = call("GET", "/v1/facts")
        assert listed == {"facts": [f.to_dict() for f in remembering.get_taught_facts(services)]}
        assert listed["facts"] == [fact] and fact["object"] == "+47 555"
        rec = record_turn(services, "paid leave", ["c1", "c2"], ["c2"], "docs")
        vote = call("POST", "/v1/feedback", json={"turn_id": rec.turn_id, "helpful": True})
        boost = round(learned_boosts(services, "paid leave", ["c2"])["c2"], 4)
        assert vote == {"turn_id": rec.turn_id, "helpful": True, "candidates": ["c2"],
                        "terms": ["paid", "leav"], "boosts": {"c2": boost}}  # fmt: skip
        adapters = call("GET", "/v1/adapters")
        assert adapters == {"adapters": [a.to_dict() for a in list_all(tmp_path)]}
        by_name = {a["name"]: a for a in adapters["adapters"]}
        assert by_name["memory-reader"]["rank"] == 16  # a built-in the user's dir does not shadow
        assert by_name["reader"]["rank"] == 4 and by_name["reader"]["error"] is None
        assert by_name["broken"]["error"] and by_name["broken"]["rank"] is None
        assert "broken/adapter_config.json" in by_name["broken"]["error"]
        assert str(tmp_path) not in json.dumps(adapters)  # no path of the server's disk
        assert call("GET", "/healthz") == {"status": "ok"}
        assert call("GET", "/readyz") == {
            "status": "ready",
            "stores": {"redis": "ok", "chroma": "ok"},
        }
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "overlay_http_requests_total" in metrics.text


def test_the_scenarios_above_cover_every_route(services: Services) -> None:
    """A route added without a response-shape check here fails this test."""
    covered = {
        ("POST", "/v1/documents"), ("GET", "/v1/documents"), ("DELETE", "/v1/documents"),
        ("POST", "/v1/retrieve"), ("POST", "/v1/sessions/{session_id}/turns"),
        ("GET", "/v1/sessions/{session_id}"), ("GET", "/v1/sessions/{session_id}/memory"),
        ("GET", "/v1/sessions/{session_id}/facts"), ("POST", "/v1/sessions/{session_id}/facts"),
        ("DELETE", "/v1/sessions/{session_id}"), ("POST", "/v1/facts"), ("GET", "/v1/facts"),
        ("POST", "/v1/feedback"), ("GET", "/v1/adapters"), ("GET", "/healthz"),
        ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/v1/collections"),
        ("GET", "/v1/sessions/{session_id}/export"), ("POST", "/v1/sessions/{session_id}/import"),
        ("PATCH", "/v1/sessions/{session_id}/facts/{key}"),
        ("DELETE", "/v1/sessions/{session_id}/facts/{key}"),
        ("DELETE", "/v1/sessions/{session_id}/turns/{turn_id}"),
    }  # fmt: skip
    # the chat routes' shapes are checked with real clients in test_api_frontends.py and
    # test_api_conversation.py (official client, Open WebUI / LibreChat bodies)
    chat = {
        ("POST", "/v1/chat"), ("POST", "/v1/chat/completions"), ("GET", "/v1/models"),
        ("POST", "/v1/embeddings"),
    }  # fmt: skip
    assert set(_models(make_app(services).openapi())) == covered | chat


def test_collections_lists_what_retrieval_accepts(services: Services) -> None:
    services.vectors("handbook").add(["c1"], [LEAVE], [{"source": "hr.md"}])
    with TestClient(make_app(services)) as client:
        body = client.get("/v1/collections").json()
        assert body == {"collections": services.collections(), "default": "default"}
        assert "handbook" in body["collections"]
        assert client.post(
            "/v1/retrieve", json={"query": "leave", "collection": "handbook"}
        ).is_success
        missing = client.post("/v1/retrieve", json={"query": "leave", "collection": "hr"})
        assert missing.status_code == 404 and "handbook" in missing.json()["error"]["message"]
