"""What OpenAI-compatible front ends send, replayed; ``/v1/embeddings`` through the official
client; the chat page's files. A tiny random model answers (the shapes, not the answers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from overlay.services import Services
from tests.apiserver import serving_docs

REQUESTS = json.loads((Path(__file__).parent / "fixtures" / "frontend_requests.json").read_text())
DOCS = {
    "products.md": "The Lumen L-2 data logger stores up to 12 million readings. It was first "
    "released in March 2019.",
    "handbook.md": "Every employee receives 27 days of paid annual leave.",
}


@pytest.fixture
def server(services: Services, tiny_model: Any) -> Iterator[str]:
    with serving_docs(services, tiny_model, DOCS, max_new_tokens=8) as url:
        yield url


def _events(text: str) -> list[Any]:
    lines = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]", text[-300:]
    return [json.loads(x) for x in lines[:-1]]


@pytest.mark.parametrize(
    "req", REQUESTS["requests"], ids=lambda r: f"{r['client']}: {r['what']}"
)  # fmt: skip
def test_front_end_request_replayed(server: str, req: dict[str, Any]) -> None:
    r = httpx.request(
        req["method"], server + req["path"], json=req.get("body"),
        headers=req.get("headers"), timeout=120,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    if req["path"] == "/v1/models":
        ids = [m["id"] for m in r.json()["data"]]
        assert ids[0] == "overlay" and all(m["object"] == "model" for m in r.json()["data"])
        return
    body = req["body"]
    if not body.get("stream"):
        completion = r.json()
        assert completion["object"] == "chat.completion"
        assert isinstance(completion["choices"][0]["message"]["content"], str)
        return
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = _events(r.text)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d.get("content") or "" for d in deltas).strip()
    final = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    # the session is the request's user; without one no memory is kept (issue 21)
    assert len(final) == 1 and final[0]["overlay"]["session_id"] == body.get("user")
    wants_usage = body.get("stream_options", {}).get("include_usage")
    assert (chunks[-1]["choices"] == []) == bool(wants_usage)
    if wants_usage:
        assert chunks[-1]["usage"]["prompt_tokens"] > 0


def test_embeddings_with_the_official_client(server: str, services: Services) -> None:
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)
    listed = {m.id: m.model_extra.get("kind") for m in client.models.list()}
    name = services.embedder.name
    assert listed[name] == "embedding" and listed["overlay"] == "chat"
    one = client.embeddings.create(model=name, input="paid annual leave")  # base64 by default
    assert len(one.data) == 1 and len(one.data[0].embedding) == services.embedder.dim
    expected = services.embedder.embed(["paid annual leave"])[0]
    assert np.allclose(one.data[0].embedding, expected, atol=1e-6)
    many = client.embeddings.create(model=name, input=["leave", "logger"], encoding_format="float")
    assert [d.index for d in many.data] == [0, 1] and many.usage.prompt_tokens > 0
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-3-small", input="x")
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=name, input=["ok", " "])
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=name, input="x", dimensions=8)


def test_chat_page_and_its_files_are_served(server: str) -> None:
    page = httpx.get(server + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js">' in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "css")):
        r = httpx.get(f"{server}/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    assert httpx.get(f"{server}/static/..%2Fapp.py").status_code == 404
    assert httpx.get(f"{server}/static/index.html").status_code == 404
    openapi = httpx.get(f"{server}/openapi.json").json()
    schemas = openapi["components"]["schemas"]
    assert {"ChatCompletion", "ChatCompletionChunk", "ChatResponse", "EmbeddingList"} <= set(
        schemas
    )
    chat = openapi["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in chat and "application/json" in chat
