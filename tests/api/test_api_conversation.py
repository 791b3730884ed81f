"""OpenAI conversation semantics over live HTTP (tiny random model: the mechanics).

History and instructions from ``messages``, the session's source, follow-up queries, usage
and ``include_usage``, named 400s for unsupported parameters, 404s for unknown collections
and adapters, a client that disconnects mid-stream. Real answers: ``test_api_real_model.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.conversation import read_messages
from api.schemas import ChatCompletionRequest
from overlay.services import Services
from overlay.turn import merge_turns
from tests.apiserver import serving_docs

DOCS = {
    "lumen.txt": "The Lumen L-2 data logger stores 12 million readings. It was first released "
    "in March 2019.",
    "history.txt": "Halvorsen Instruments was founded in 1987 by Ingrid Halvorsen in Tromso.",
}
LUMEN = "What does the Lumen L-2 data logger store?"


@pytest.fixture
def server(services: Services, tiny_model: Any) -> Iterator[str]:
    with serving_docs(services, tiny_model, DOCS, max_new_tokens=8) as url:
        yield url


def _post(url: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120, **kw)


def _sse(text: str) -> list[Any]:
    events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_messages_become_question_history_and_instructions() -> None:
    body = ChatCompletionRequest.model_validate(
        {"messages": [
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": LUMEN},
            {"role": "assistant", "content": "12 million readings [1]"},
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": "When was it released?"},
        ]}
    )  # fmt: skip
    question, conv = read_messages(body)
    assert question == "When was it released?"
    assert conv.turns == [("user", LUMEN), ("assistant", "12 million readings [1]")]
    assert conv.instructions == "Answer in French.\n\nBe brief."


def test_session_turns_the_client_also_sent_appear_once() -> None:
    client = [("user", "a"), ("assistant", "b")]
    session = [("user", "older"), ("assistant", "older answer"), ("user", "a"), ("assistant", "b")]
    assert merge_turns(client, session) == [("user", "older"), ("assistant", "older answer"),
                                            *client]  # fmt: skip


def test_session_source_and_follow_up_query(server: str) -> None:
    first = [{"role": "user", "content": LUMEN}]
    r1 = _post(server, {"messages": first})
    assert r1.status_code == 200, r1.text
    o1 = r1.json()["overlay"]
    # no id given: no session, no memory (a derived id merged conversations; issue 21)
    assert o1["session_source"] == "none" and o1["session_id"] is None
    assert o1["retrieval_query"] == LUMEN
    history = [
        *first,
        {"role": "assistant", "content": r1.json()["choices"][0]["message"]["content"]},
    ]
    follow = {"messages": [*history, {"role": "user", "content": "When was it first released?"}]}
    o2 = _post(server, follow).json()["overlay"]
    assert o2["session_id"] is None  # the follow-up reads its conversation from messages
    assert LUMEN in o2["retrieval_query"] and o2["retrieval_query"].endswith("released?")
    assert _post(server, {**follow, "user": "u-1"}).json()["overlay"]["session_source"] == "user"
    by_header = _post(server, {**follow, "user": "u-1"}, headers={"X-Session-Id": "h-1"}).json()
    assert (by_header["overlay"]["session_id"], by_header["overlay"]["session_source"]) == (
        "h-1", "header",
    )  # fmt: skip
    turns = httpx.get(f"{server}/v1/sessions/u-1").json()["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant"]


def test_usage_and_include_usage_chunk(server: str) -> None:
    body = {"messages": [{"role": "user", "content": LUMEN}], "max_tokens": 2}
    usage = _post(server, body).json()["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] <= 2
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    chosen = _post(server, {**body, "mode": "choose"}).json()["usage"]
    assert chosen["completion_tokens"] == 0 and chosen["prompt_tokens"] > 0  # scoring read
    streamed = _post(server, {**body, "stream": True, "stream_options": {"include_usage": True}})
    chunks = _sse(streamed.text)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] > 0
    assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")
    assert chunks[-2]["overlay"]["timings_ms"]["first_token"] >= 0
    plain = _sse(_post(server, {**body, "stream": True}).text)
    assert plain[-1]["choices"] and plain[-1]["usage"] is None
    metrics = httpx.get(f"{server}/metrics").text
    assert "overlay_first_token_seconds_count 4.0" in metrics


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"n": 3}, "n=3"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"},
         "tool_choice"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}],
          "tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
         "response_format"),
        ({"logprobs": True}, "logprobs"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ],
)  # fmt: skip
def test_unsupported_parameters_are_named_400s(
    server: str, extra: dict[str, Any], named: str
) -> None:
    r = _post(server, {"messages": [{"role": "user", "content": LUMEN}], **extra})
    assert r.status_code == 400, r.text
    assert named in r.json()["error"]["message"]


def test_what_clients_send_by_default_keeps_working(server: str) -> None:
    body = {
        "model": "overlay", "messages": [{"role": "user", "content": LUMEN}], "n": 1,
        "tool_choice": "auto", "tools": [], "frequency_penalty": 0, "presence_penalty": 0,
        "logprobs": False, "response_format": {"type": "text"}, "temperature": 0.7,
        "top_p": 0.9, "seed": 7, "stop": ["\n\n"], "user": "default-client",
        "stream_options": {"include_usage": False}, "parallel_tool_calls": True,
    }  # fmt: skip
    r = _post(server, body)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["finish_reason"] in ("stop", "length")


def test_unknown_collection_and_adapter_are_404s_everywhere(server: str) -> None:
    q = {"role": "user", "content": "Who founded Halvorsen Instruments?"}
    for r in (
        _post(server, {"messages": [q], "collection": "nope"}),
        httpx.post(f"{server}/v1/chat", json={"message": "hi", "collection": "nope"}),
        httpx.post(f"{server}/v1/retrieve", json={"query": "hi", "collection": "nope"}),
        httpx.get(f"{server}/v1/documents", params={"collection": "nope"}),
    ):
        assert r.status_code == 404, r.text
        err = r.json()["error"]
        assert err["type"] == "collection_not_found"
        assert "'nope'" in err["message"] and "default" in err["message"]
    assert _post(server, {"messages": [q], "user": "mem-1"}).status_code == 200
    listed = httpx.get(f"{server}/v1/collections").json()
    assert listed == {"collections": ["default"], "default": "default"}  # no session memories
    doc = {"source": "m.txt", "text": "The manual.", "collection": "manuals"}
    assert httpx.post(f"{server}/v1/documents", json=doc).status_code == 200
    listed = httpx.get(f"{server}/v1/collections").json()
    assert listed["collections"] == ["default", "manuals"]
    assert "default, manuals" in _post(server, {"messages": [q], "collection": "nope"}).text
    assert httpx.get(f"{server}/v1/documents", params={"collection": "manuals"}).status_code == 200
    nothing = {"role": "user", "content": "zzz qqq"}  # matches no document: still a 404
    for r in (
        _post(server, {"model": "overlay:ghost", "messages": [nothing]}),
        httpx.post(f"{server}/v1/chat", json={"message": "zzz qqq", "adapter": "ghost"}),
    ):
        assert r.status_code == 404, r.text
        err = r.json()["error"]
        assert err["type"] == "adapter_not_found" and "ghost" in err["message"]
        assert "/" not in err["message"]  # no server path


def test_disconnect_mid_stream_leaves_the_server_serving(server: str) -> None:
    body = {"messages": [{"role": "user", "content": LUMEN}], "stream": True, "max_tokens": 64}
    with httpx.Client(timeout=120) as client:
        with client.stream("POST", f"{server}/v1/chat/completions", json=body) as r:
            assert r.status_code == 200
            next(r.iter_lines())  # the first event, then hang up
    after = _post(server, {"messages": [{"role": "user", "content": LUMEN}]})
    assert after.status_code == 200 and after.json()["choices"][0]["message"]["content"]
    assert httpx.get(f"{server}/healthz").status_code == 200
