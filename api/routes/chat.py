"""Chat: ``POST /v1/chat/completions`` (OpenAI-compatible), ``POST /v1/chat``, ``GET /v1/models``.

A turn runs on the model queue (``api.limits.ModelQueue``), never on the event
loop. ``stream: true`` answers with server-sent events in OpenAI's chunk format,
ending with ``data: [DONE]``; the last content chunk carries the ``overlay`` object.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import HeaderSessionDep, MetricsDep, QueueDep, ServicesDep, valid_session
from api.limits import check_length
from api.routes.adapters import adapter_infos
from api.schemas import ERRORS, ChatCompletionRequest, ChatRequest
from memory.errors import InvalidInput
from overlay.adapters.files import validate_name
from overlay.services import Services
from overlay.turn import ask

router = APIRouter(tags=["chat"], responses=ERRORS)

BASE_MODEL = "overlay"


def parse_model(model: str) -> str | None:
    """``overlay`` → the base (None); ``overlay:<adapter>`` → that adapter's name."""
    if model == BASE_MODEL:
        return None
    prefix, sep, name = model.partition(":")
    if prefix != BASE_MODEL or not sep:
        raise InvalidInput(f"unknown model {model!r}: use 'overlay' or 'overlay:<adapter>'")
    return validate_name(name)


def run_turn(services: Services, question: str, **kw: Any) -> dict[str, Any]:
    """One chat turn through the library's pipeline, as a plain dict with token usage.

    ``usage`` counts the model's tokens of the user's message and of the answer.
    """
    result: dict[str, Any] = ask(services, question, **kw).to_dict()
    tok = services.model.tokenizer
    prompt, completion = (
        len(tok(t, add_special_tokens=False)["input_ids"]) for t in (question, result["answer"])
    )
    result["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion}
    return result


async def _queued_turn(
    request: Request, services: Services, queue: Any, metrics: Any, question: str, **kw: Any
) -> dict[str, Any]:
    settings = request.app.state.settings
    check_length(question, settings.max_message_chars)
    lane = f"{services.tenant}:{kw.get('session') or '-'}"
    result = await queue.run(lane, lambda: run_turn(services, question, **kw))
    metrics.observe_turn(result)
    return result


@router.get("/v1/models")
def list_models(request: Request, services: ServicesDep) -> dict[str, Any]:
    """OpenAI-compatible model list: ``overlay`` and ``overlay:<adapter>`` per adapter."""
    names = [BASE_MODEL] + [f"{BASE_MODEL}:{a.name}" for a in adapter_infos(request, services)]
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "overlay"} for n in names],
    }


def _last_user_message(body: ChatCompletionRequest) -> str:
    for message in reversed(body.messages):
        if message.role == "user":
            text = message.text().strip()
            if text:
                return text
    raise InvalidInput("messages must contain a user message with text")


def _overlay_block(result: dict[str, Any], session: str | None) -> dict[str, Any]:
    return {
        "citations": result.get("citations", []),
        "abstained": bool(result.get("abstained")),
        "session_id": session,
        "adapter": result.get("adapter"),
        "turn_id": result.get("turn_id"),
        "timings_ms": result.get("timings_ms", {}),
        "degraded": bool(result.get("degraded")),
    }


def _usage(result: dict[str, Any]) -> dict[str, int]:
    usage = result.get("usage") or {}
    prompt = int(usage.get("prompt_tokens", 0))
    completion = int(usage.get("completion_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(
    body: ChatCompletionRequest, result: dict[str, Any], cid: str, session: str | None
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.get("answer", "")},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(result),
        "overlay": _overlay_block(result, session),
    }


def _pieces(text: str) -> list[str]:
    """The answer cut into word-sized deltas (whitespace kept, so they join exactly)."""
    out: list[str] = []
    for word in text.split(" "):
        out.append(word if not out else " " + word)
    return [p for p in out if p] or [""]


async def _sse(
    body: ChatCompletionRequest, result: dict[str, Any], cid: str, session: str | None
) -> AsyncIterator[str]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(data)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(result.get("answer", "")):
        yield chunk({"content": piece})
    yield chunk({}, "stop", usage=_usage(result), overlay=_overlay_block(result, session))
    yield "data: [DONE]\n\n"


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    services: ServicesDep,
    queue: QueueDep,
    metrics: MetricsDep,
    header_session: HeaderSessionDep,
) -> Any:
    """OpenAI's chat completion: the last user message is the turn.

    The session is ``X-Session-Id`` or the ``user`` field; ``model`` picks the adapter.
    """
    adapter = parse_model(body.model)
    session = header_session or valid_session(body.user)
    question = _last_user_message(body)
    result = await _queued_turn(
        request, services, queue, metrics, question, adapter=adapter, session=session
    )
    cid = f"chatcmpl-{result.get('turn_id') or uuid.uuid4().hex}"
    if body.stream:
        return StreamingResponse(
            _sse(body, result, cid, session),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return _completion(body, result, cid, session)


@router.post("/v1/chat")
async def chat(
    body: ChatRequest,
    request: Request,
    services: ServicesDep,
    queue: QueueDep,
    metrics: MetricsDep,
) -> dict[str, Any]:
    """The native turn: answer, abstained, citations, adapter, timings, turn id, session."""
    if body.adapter is not None:
        validate_name(body.adapter)
    result = await _queued_turn(
        request,
        services,
        queue,
        metrics,
        body.message,
        collection=body.collection,
        mode=body.mode,
        adapter=body.adapter,
        session=body.session_id,
        k=body.k,
    )
    return {**result, "session_id": body.session_id}
