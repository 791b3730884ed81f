"""The lookup routes on real stores: documents, retrieval, sessions, facts, tenants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from overlay.services import Services
from tests.apiserver import make_app

LEAVE = "Employees get 27 days of paid annual leave. Leave requests go through the HR portal."
FOUNDER = "Halvorsen Instruments was founded in 1962 by Ingrid Halvorsen in Bergen."


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(make_app(services)) as c:
        yield c


def _ingest(client: TestClient, source: str, text: str, collection: str = "docs") -> dict:
    resp = client.post(
        "/v1/documents", json={"source": source, "text": text, "collection": collection}
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["document"]


def test_documents_json_upload_list_and_delete(client: TestClient) -> None:
    assert _ingest(client, "leave.txt", LEAVE)["status"] == "new"
    assert _ingest(client, "leave.txt", LEAVE)["status"] == "unchanged"
    files = {"file": ("founder.md", b"# History\n\n" + FOUNDER.encode(), "text/markdown")}
    up = client.post("/v1/documents", files=files, data={"collection": "docs"})
    assert up.status_code == 200, up.text
    assert up.json()["document"]["source"] == "founder.md"
    listed = client.get("/v1/documents", params={"collection": "docs"}).json()["documents"]
    assert sorted(d["source"] for d in listed) == ["founder.md", "leave.txt"]
    gone = client.delete("/v1/documents", params={"source": "leave.txt", "collection": "docs"})
    assert gone.status_code == 200 and gone.json()["removed"]["source"] == "leave.txt"
    again = client.delete("/v1/documents", params={"source": "leave.txt", "collection": "docs"})
    assert again.status_code == 404 and again.json()["error"]["type"] == "source_not_found"
    bad = client.post("/v1/documents", content=b"hello", headers={"content-type": "text/plain"})
    assert bad.status_code == 400


def test_upload_over_the_file_limit_is_413(services: Services) -> None:
    with TestClient(make_app(services, max_file_mb=0.01)) as client:
        files = {"file": ("big.txt", b"word " * 4000, "text/plain")}
        resp = client.post("/v1/documents", files=files)
    assert resp.status_code == 413 and resp.json()["error"]["type"] == "too_large"


@pytest.mark.parametrize("method", ["dense", "sparse", "hybrid"])
def test_retrieve_ranks_the_matching_chunk_first(client: TestClient, method: str) -> None:
    _ingest(client, "leave.txt", LEAVE)
    _ingest(client, "founder.txt", FOUNDER)
    body = {"query": "paid annual leave days", "collection": "docs", "k": 2, "method": method}
    resp = client.post("/v1/retrieve", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["query"] == body["query"]
    first = out["results"][0]
    assert set(first) == {"id", "source", "text", "score", "kind"}
    assert first["source"] == "leave.txt" and "27 days" in first["text"]


def test_retrieve_rejects_bad_input_with_4xx(client: TestClient) -> None:
    assert client.post("/v1/retrieve", json={"query": ""}).status_code == 422
    assert client.post("/v1/retrieve", json={"query": "x", "method": "magic"}).status_code == 422
    assert client.post("/v1/retrieve", json={"query": "x", "k": 0}).status_code == 422
    resp = client.post(
        "/v1/retrieve", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422 and resp.json()["error"]["type"] == "invalid_request"


def test_session_turns_memory_facts_and_forget(client: TestClient) -> None:
    sid = "s-" + uuid.uuid4().hex[:8]
    turns = [
        {"role": "user", "content": "My name is Ada and I live in Oslo."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "I am planning a trip to the mountains in March."},
    ]
    resp = client.post(f"/v1/sessions/{sid}/turns", json={"turns": turns})
    assert resp.json() == {"session_id": sid, "added": 3}
    mem = client.get(f"/v1/sessions/{sid}/memory", params={"q": "where do I live?", "k": 3})
    assert mem.status_code == 200, mem.text
    results = mem.json()["results"]
    assert results and {"id", "kind", "text", "score", "ts"} <= set(results[0])
    assert any("Oslo" in r["text"] for r in results)
    turns_found = [r for r in results if r["kind"] == "turn"]
    assert turns_found and all(r["role"] in ("user", "assistant") for r in turns_found)
    named = client.get(f"/v1/sessions/{sid}/memory", params={"q": "what is my name?", "k": 5})
    facts_found = [r for r in named.json()["results"] if r["kind"] == "fact"]
    assert any(r["key"] == "name" and r["value"].startswith("Ada") for r in facts_found), named.text
    facts = client.get(f"/v1/sessions/{sid}/facts").json()["facts"]
    assert any(f["value"].startswith("Ada") for f in facts)
    added = client.post(
        f"/v1/sessions/{sid}/facts", json={"key": "favourite colour", "value": "green"}
    )
    assert added.status_code == 200 and added.json()["fact"]["value"] == "green"
    assert client.get(f"/v1/sessions/{sid}").json()["count"] == 3
    assert client.delete(f"/v1/sessions/{sid}").json()["forgotten"] is True
    assert client.get(f"/v1/sessions/{sid}/facts").status_code == 404
    assert client.get(f"/v1/sessions/{sid}/memory", params={"q": "x"}).status_code == 404


def test_bad_session_ids_are_400(client: TestClient) -> None:
    resp = client.post(
        "/v1/sessions/bad%20id!/turns", json={"turns": [{"role": "user", "content": "hi"}]}
    )
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_input"


def test_taught_facts(client: TestClient) -> None:
    fact = {
        "subject": "Halvorsen Instruments",
        "relation": "support phone",
        "object": "+47 555 0100",
    }
    resp = client.post("/v1/facts", json=fact)
    assert resp.status_code == 200 and resp.json()["fact"]["object"] == "+47 555 0100"
    got = client.get("/v1/facts", params={"subject": fact["subject"], "relation": fact["relation"]})
    assert [f["object"] for f in got.json()["facts"]] == ["+47 555 0100"]
    assert client.post("/v1/facts", json={**fact, "object": ""}).status_code == 422


def test_tenants_do_not_see_each_other(services: Services) -> None:
    a, b = "ta" + uuid.uuid4().hex[:8], "tb" + uuid.uuid4().hex[:8]
    app = make_app(services, api_keys={"key-a": a, "key-b": b})
    ha, hb = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
    with TestClient(app) as client:
        fact = {"subject": "office", "relation": "wifi password", "object": "hunter2"}
        assert client.post("/v1/facts", json=fact, headers=ha).status_code == 200
        assert client.get("/v1/facts", headers=hb).json()["facts"] == []
        assert client.get("/v1/facts", headers=ha).json()["facts"][0]["object"] == "hunter2"
        doc = {"source": "secret.txt", "text": LEAVE}
        assert client.post("/v1/documents", json=doc, headers=ha).status_code == 200
        assert client.get("/v1/documents", headers=hb).json()["documents"] == []
        assert client.get("/v1/documents").status_code == 401
        assert (
            client.get("/v1/documents", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
