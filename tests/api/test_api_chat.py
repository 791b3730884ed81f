"""Chat over HTTP with the official ``openai`` client against a live uvicorn server.

A tiny random Llama stands in for the model here (the mechanics, not the answers);
``test_api_real_model.py`` checks real answers with SmolLM2.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from overlay.choosing.scoring import query_logprobs
from overlay.choosing.view_cache import VIEWS, view_cache_stats
from overlay.model.decode import Decoding, decode
from overlay.model.prefix import prefix_cache_stats
from overlay.services import Services
from tests.apiserver import live_server, make_app, serving_docs

DOCS = {
    "leave.txt": "Employees get 27 days of paid annual leave. Leave is booked in the HR portal.",
    "founder.txt": "Halvorsen Instruments was founded in 1962 by Ingrid Halvorsen in Bergen.",
    "support.txt": "Support answers the phone on weekdays between 8 and 16, Oslo time.",
}


@pytest.fixture
def server(services: Services, tiny_model: Any) -> Iterator[str]:
    with serving_docs(services, tiny_model, DOCS, max_new_tokens=8) as url:
        yield url


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)


def test_openai_client_non_streaming(server: str) -> None:
    client = _client(server)
    resp = client.chat.completions.create(
        model="overlay",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "How many days of paid annual leave do employees get?"},
        ],
        user="sess-openai-1",
    )
    assert resp.object == "chat.completion" and resp.model == "overlay"
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason == "stop"
    extra = resp.model_extra["overlay"]
    assert extra["session_id"] == "sess-openai-1"
    assert set(extra) >= {"citations", "abstained", "timings_ms", "turn_id"}
    assert extra["turn_id"] and resp.id == f"chatcmpl-{extra['turn_id']}"
    assert resp.usage is not None and resp.usage.prompt_tokens > 0
    models = [m.id for m in client.models.list()]
    assert models[0] == "overlay"


def test_openai_client_streaming(server: str) -> None:
    client = _client(server)
    stream = client.chat.completions.create(
        model="overlay",
        messages=[{"role": "user", "content": "Who founded Halvorsen Instruments?"}],
        stream=True,
        extra_headers={"X-Session-Id": "sess-stream"},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[-1].model_extra["overlay"]["session_id"] == "sess-stream"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    native = httpx.post(
        f"{server}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Who founded it?"}], "stream": True},
    )
    assert native.headers["content-type"].startswith("text/event-stream")
    assert native.text.rstrip().endswith("data: [DONE]")
    # the deltas join to exactly the answer the turn gave, which session memory logged
    session = httpx.get(f"{server}/v1/sessions/sess-stream").json()
    assert [t["role"] for t in session["turns"]] == ["user", "assistant"]
    assert text.strip() and text == session["turns"][-1]["text"]


def test_chat_errors_are_openai_shaped_4xx(server: str) -> None:
    client = _client(server)
    with pytest.raises(openai.NotFoundError) as nf:
        client.chat.completions.create(
            model="overlay:no-such-adapter", messages=[{"role": "user", "content": "hi"}]
        )
    assert nf.value.body["type"] == "adapter_not_found"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="overlay:../../etc", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.BadRequestError):  # no user message
        client.chat.completions.create(
            model="overlay", messages=[{"role": "system", "content": "x"}]
        )
    too_long = {"messages": [{"role": "user", "content": "x" * 40_000}]}
    r = httpx.post(f"{server}/v1/chat/completions", json=too_long)
    assert r.status_code == 413 and r.json()["error"]["type"] == "too_large"


def test_native_chat_and_feedback_move_the_ranking(server: str) -> None:
    question = "How many days of paid annual leave do employees get?"
    body = {"message": question, "mode": "choose", "session_id": "s-" + uuid.uuid4().hex[:6]}
    turn = httpx.post(f"{server}/v1/chat", json=body, timeout=60).json()
    assert {"answer", "abstained", "citations", "timings_ms", "turn_id", "session_id"} <= set(turn)

    def chosen() -> list[dict[str, Any]]:
        body = {"query": question, "method": "chosen", "k": 3}
        r = httpx.post(f"{server}/v1/retrieve", json=body, timeout=60)
        assert r.status_code == 200, r.text
        return list(r.json()["results"])

    before = chosen()
    target = before[-1]["id"]  # votes push the last candidate up
    boosts = []
    for _ in range(12):
        vote = {"turn_id": turn["turn_id"], "helpful": True, "candidate_id": target}
        r = httpx.post(f"{server}/v1/feedback", json=vote)
        assert r.status_code == 200, r.text
        boosts.append(r.json()["boosts"][target])
    assert boosts[0] > 0 and boosts[-1] >= boosts[0] and max(boosts) <= 1.0  # bounded
    after = chosen()
    rank = [h["id"] for h in after].index(target)
    score = {h["id"]: h["score"] for h in after}[target]
    assert rank < len(before) - 1 and score > before[-1]["score"]
    down = httpx.post(f"{server}/v1/feedback", json={**vote, "helpful": False}).json()
    assert down["boosts"][target] < boosts[-1]
    missing = httpx.post(f"{server}/v1/feedback", json={"turn_id": "nope", "helpful": True})
    assert missing.status_code == 404


def test_metrics_count_stages_tokens_and_turns(server: str) -> None:
    body = {"messages": [{"role": "user", "content": "Who founded Halvorsen Instruments?"}]}
    assert httpx.post(f"{server}/v1/chat/completions", json=body, timeout=60).status_code == 200
    text = httpx.get(f"{server}/metrics").text
    assert 'overlay_stage_seconds_count{stage="retrieve"} 1.0' in text
    assert 'overlay_stage_seconds_count{stage="total"} 1.0' in text
    assert 'overlay_tokens_total{kind="prompt"}' in text
    assert "overlay_chat_turns_total" in text and "overlay_adapters_loaded" in text
    route = 'route="/v1/chat/completions",status="200"'
    assert f'overlay_http_requests_total{{method="POST",{route}}} 1.0' in text


def test_metrics_show_the_prefix_cache(server: str, tiny_model: Any) -> None:
    tok = tiny_model.tokenizer
    head = "the passage question about this answer what is the " * 3
    for q in ("days of paid leave", "who founded the company", "how many days"):
        ids = list(tok(head + q + " ?", add_special_tokens=False)["input_ids"])
        decode(tiny_model.model, tok, ids, Decoding(max_new_tokens=4))  # this process's cache
    stats = prefix_cache_stats()
    assert stats["lookups"] >= 3 and stats["hits"] >= 1
    text = httpx.get(f"{server}/metrics").text
    for stat in ("lookups", "hits", "reused_tokens"):
        assert f'overlay_prefix_cache{{stat="{stat}"}} {float(stats[stat])}' in text, stat


def test_metrics_show_the_view_cache(server: str, tiny_model: Any) -> None:
    for _ in range(2):  # this process's view cache: the second pass reuses the first's prompts
        query_logprobs(tiny_model.model, tiny_model.tokenizer, "days of paid leave",
                       ["employees get 27 days of annual paid leave ."], cache=VIEWS)  # fmt: skip
    stats = view_cache_stats()
    assert stats["hits"] >= 1 and stats["entries"] >= 1
    lines = httpx.get(f"{server}/metrics").text.splitlines()
    shown = {ln.split('"')[1]: float(ln.split()[-1]) for ln in lines
             if ln.startswith("overlay_view_cache{")}  # fmt: skip
    for stat in ("lookups", "hits", "entries", "bytes"):
        assert shown[stat] == float(stats[stat]), stat


def test_full_queue_answers_429_with_retry_after(services: Services, tiny_model: Any) -> None:
    app = make_app(services, model=tiny_model, max_queue=1, model_workers=1)
    gate = threading.Event()
    with live_server(app) as url:
        queue = app.state.queue
        blockers: list[threading.Thread] = []

        def block_until(state: tuple[int, int]) -> None:
            # one blocker at a time: two submitted at once could find the first still
            # waiting (queue full) before a worker takes it, and be refused themselves
            t = threading.Thread(target=lambda: asyncio.run(queue.run("other", gate.wait)))
            t.start()
            blockers.append(t)
            deadline = time.monotonic() + 60  # a loaded CI machine can be slow
            while (queue.running, queue.waiting) != state and time.monotonic() < deadline:
                time.sleep(0.01)
            assert (queue.running, queue.waiting) == state, "the blockers never filled the queue"

        try:  # the gate always opens, so no blocker thread outlives a failure
            block_until((1, 0))  # the first runs (and holds the only worker)
            block_until((1, 1))  # the second waits: the queue is full
            r = httpx.post(f"{url}/v1/chat", json={"message": "Who founded it?"}, timeout=30)
        finally:
            gate.set()
        for t in blockers:
            t.join(5)
        assert r.status_code == 429 and r.json()["error"]["type"] == "busy"
        assert int(r.headers["retry-after"]) >= 1
        assert httpx.get(f"{url}/healthz").status_code == 200
