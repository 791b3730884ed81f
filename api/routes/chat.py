"""Chat: ``POST /v1/chat/completions`` (OpenAI-compatible), ``POST /v1/chat``, ``GET /v1/models``.

A turn runs on the model queue (``api.limits.ModelQueue``), never on the event loop. With
``stream: true`` each piece of the answer is sent as a ``delta`` chunk as soon as the model
produces it (``api.streaming``); the last content chunk carries ``finish_reason`` and the
``overlay`` object, ``stream_options.include_usage`` adds a usage-only chunk, then
``data: [DONE]``. The adapter and the collection are checked before anything runs.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.chat_responses import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatResponse,
    Choice,
    ChunkChoice,
    Delta,
    Message,
    ModelCard,
    ModelList,
    SessionSource,
    TurnInfo,
    Usage,
)
from api.conversation import decoding_of, read_turn
from api.deps import HeaderSessionDep, MetricsDep, QueueDep, ServicesDep
from api.metrics import Metrics
from api.routes.adapters import adapter_infos
from api.schemas import ERRORS, ChatCompletionRequest, ChatRequest
from api.streaming import TurnStream
from memory.errors import InvalidInput, OverlayError
from overlay.request import TurnRequest, resolve
from overlay.services import Services
from overlay.turn import Answer, ask

log = logging.getLogger("overlay.api")
router = APIRouter(tags=["chat"], responses=ERRORS)

BASE_MODEL = "overlay"
_CHUNK = {"schema": {"$ref": "#/components/schemas/ChatCompletionChunk"}}
_SSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": _CHUNK}}}


def document_stream(app: FastAPI) -> None:
    """Add the stream chunk's schema to the app's OpenAPI components (no route returns it as
    JSON, so FastAPI would not list it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        chunk = ChatCompletionChunk.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in chunk.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["ChatCompletionChunk"] = chunk
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def parse_model(model: str) -> str | None:
    """``overlay`` → the base (None); ``overlay:<adapter>`` → that adapter's name."""
    if model == BASE_MODEL:
        return None
    prefix, sep, name = model.partition(":")
    if prefix != BASE_MODEL or not sep:
        raise InvalidInput(f"unknown model {model!r}: use 'overlay' or 'overlay:<adapter>'")
    return name


def embedder_id(services: Services) -> str:
    """The embedder's model id as ``/v1/models`` lists it (a folder's name, never its path)."""
    return Path(services.embedder.name).name


async def _resolved(services: Services, text: str, **kw: Any) -> TurnRequest:
    """The turn's request checked by the library (``overlay.request.resolve``) before anything
    runs: text, mode, ``k``, the adapter and the collection (404s list what exists)."""
    return await run_in_threadpool(lambda: resolve(services, text, **kw))


def _start(services: Services, queue: Any, req: TurnRequest, **kw: Any) -> TurnStream:
    stream = TurnStream()
    lane = f"{services.tenant}:{req.session or '-'}"
    stream.start(queue, lane, lambda s: ask(services, req, on_text=s.on_text, **kw))
    return stream


def _finished(stream: TurnStream, answer: Answer, metrics: Metrics) -> Answer:
    first = stream.first_token_ms()
    if first is not None:
        answer.timings_ms["first_token"] = first
    waited = None if stream.first is None else stream.first - stream.received
    metrics.observe_turn(answer, waited)
    return answer


async def _answer(stream: TurnStream, metrics: Metrics) -> Answer:
    async for item in stream.pieces():
        if isinstance(item, Answer):
            return _finished(stream, item, metrics)
    raise RuntimeError("a turn ended without an answer")  # pieces() always ends with one


@router.get("/v1/models", response_model=ModelList)
def list_models(request: Request, services: ServicesDep) -> ModelList:
    """``overlay`` and ``overlay:<adapter>`` per adapter (chat), and the embedder's model."""
    names = [BASE_MODEL] + [f"{BASE_MODEL}:{a.name}" for a in adapter_infos(request, services)]
    cards = [ModelCard(id=n, kind="chat") for n in names]
    return ModelList(data=[*cards, ModelCard(id=embedder_id(services), kind="embedding")])


@router.post("/v1/chat/completions", response_model=ChatCompletion, responses=_SSE)
async def chat_completions(
    body: ChatCompletionRequest,
    services: ServicesDep,
    queue: QueueDep,
    metrics: MetricsDep,
    header_session: HeaderSessionDep,
) -> Any:
    """OpenAI's chat completion. ``messages`` is the conversation (history and system
    instructions); the session is ``X-Session-Id``, else ``user``, else none (no memory is
    kept); ``model`` picks the adapter (``overlay:<adapter>``)."""
    adapter = parse_model(body.model)
    turn = read_turn(services.tenant, header_session, body)
    decoding = decoding_of(body, services.settings.answer.max_new_tokens)
    req = await _resolved(
        services, turn.question, collection=body.collection, mode=body.mode, adapter=adapter,
        session=turn.session,
    )  # fmt: skip
    stream = _start(services, queue, req, conversation=turn.conversation, decoding=decoding)
    info = _Info(turn.session_source)
    if not body.stream:
        answer = await _answer(stream, metrics)
        cid = f"chatcmpl-{answer.turn_id or uuid.uuid4().hex}"
        return _completion(body.model, cid, answer, info.of(answer))
    cid = f"chatcmpl-{uuid.uuid4().hex}"  # chunks go out before the turn has its id
    events = stream.pieces()
    first = await anext(events)  # an error before the first piece is a plain JSON error
    usage = bool(body.stream_options and body.stream_options.include_usage)
    sse = _sse(body.model, cid, first, events, stream, metrics, info, usage)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(sse, media_type="text/event-stream", headers=headers)


class _Info:
    def __init__(self, source: SessionSource) -> None:
        self.source = source

    def of(self, answer: Answer) -> TurnInfo:
        return TurnInfo.of(answer, self.source)


def _completion(model: str, cid: str, answer: Answer, info: TurnInfo) -> ChatCompletion:
    message = Message(content=answer.answer)
    return ChatCompletion(
        id=cid, created=int(time.time()), model=model, usage=Usage.of(answer), overlay=info,
        choices=[Choice(message=message, finish_reason=_finish(answer))],
    )  # fmt: skip


def _finish(answer: Answer) -> Any:
    return "length" if answer.finish_reason == "length" else "stop"


async def _sse(
    model: str,
    cid: str,
    first: str | Answer,
    events: AsyncIterator[str | Answer],
    stream: TurnStream,
    metrics: Metrics,
    info: _Info,
    include_usage: bool,
) -> AsyncIterator[str]:
    created = int(time.time())

    def chunk(choices: list[ChunkChoice], **extra: Any) -> str:
        c = ChatCompletionChunk(id=cid, created=created, model=model, choices=choices, **extra)
        return f"data: {c.model_dump_json()}\n\n"

    try:
        yield chunk([ChunkChoice(delta=Delta(role="assistant", content=""))])
        item = first
        while not isinstance(item, Answer):
            yield chunk([ChunkChoice(delta=Delta(content=item))])
            item = await anext(events)
        answer = _finished(stream, item, metrics)
        last = ChunkChoice(delta=Delta(), finish_reason=_finish(answer))
        yield chunk([last], overlay=info.of(answer))
        if include_usage:
            yield chunk([], usage=Usage.of(answer))
        yield "data: [DONE]\n\n"
    except OverlayError as exc:  # after the headers went out: an error event, then the end
        yield _error_event(exc.type, exc.message)
    finally:
        stream.close()  # a client that went away stops the worker at its next piece


def _error_event(type_: str, message: str) -> str:
    return f"data: {json.dumps({'error': {'type': type_, 'message': message}})}\n\n"


@router.post("/v1/chat", response_model=ChatResponse)
async def chat(
    body: ChatRequest,
    services: ServicesDep,
    queue: QueueDep,
    metrics: MetricsDep,
) -> ChatResponse:
    """The native turn: answer, citations, answer kind, usage, timings, turn id, session."""
    req = await _resolved(
        services, body.message, collection=body.collection, mode=body.mode,
        adapter=body.adapter, session=body.session_id, k=body.k,
    )  # fmt: skip
    answer = await _answer(_start(services, queue, req), metrics)
    source: SessionSource = "body" if body.session_id else "none"
    return ChatResponse.of(answer, source)
