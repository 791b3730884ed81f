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
from api.limits import check_length
from api.metrics import Metrics
from api.routes.adapters import adapter_infos, require_adapter
from api.schemas import ERRORS, ChatCompletionRequest, ChatRequest
from api.streaming import TurnStream
from memory.errors import InvalidInput, OverlayError
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


async def _checked(
    request: Request, services: Services, adapter: str | None, collection: str | None
) -> str:
    """The collection to answer from, after the adapter and collection are known to exist."""
    name = collection or services.settings.collection
    await run_in_threadpool(require_adapter, request, services, adapter)
    return await run_in_threadpool(services.require_collection, name)


def _start(
    request: Request, services: Services, queue: Any, question: str, **kw: Any
) -> TurnStream:
    check_length(question, request.app.state.settings.api.max_message_chars)
    stream = TurnStream()
    lane = f"{services.tenant}:{kw.get('session') or '-'}"
    stream.start(queue, lane, lambda s: ask(services, question, on_text=s.on_text, **kw))
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
    request: Request,
    services: ServicesDep,
    queue: QueueDep,
    metrics: MetricsDep,
    header_session: HeaderSessionDep,
) -> Any:
    """OpenAI's chat completion. ``messages`` is the conversation (history and system
    instructions); the session is ``X-Session-Id``, else ``user``, else derived from the
    conversation; ``model`` picks the adapter (``overlay:<adapter>``)."""
    adapter = parse_model(body.model)
    turn = read_turn(services.tenant, header_session, body)
    decoding = decoding_of(body, services.settings.answer.max_new_tokens)
    collection = await _checked(request, services, adapter, body.collection)
    stream = _start(
        request, services, queue, turn.question, collection=collection, mode=body.mode,
        adapter=adapter, session=turn.session, conversation=turn.conversation,
        decoding=decoding,
    )  # fmt: skip
    info = _Info(turn.session, turn.session_source)
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
    def __init__(self, session: str | None, source: SessionSource) -> None:
        self.session, self.source = session, source

    def of(self, answer: Answer) -> TurnInfo:
        return TurnInfo.of(answer, self.session, self.source, answer.retrieval_query)


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
    request: Request,
    services: ServicesDep,
    queue: QueueDep,
    metrics: MetricsDep,
) -> ChatResponse:
    """The native turn: answer, citations, answer kind, usage, timings, turn id, session."""
    collection = await _checked(request, services, body.adapter, body.collection)
    stream = _start(
        request, services, queue, body.message, collection=collection, mode=body.mode,
        adapter=body.adapter, session=body.session_id, k=body.k,
    )  # fmt: skip
    answer = await _answer(stream, metrics)
    source: SessionSource = "body" if body.session_id else "none"
    info = TurnInfo.of(answer, body.session_id, source, answer.retrieval_query)
    return ChatResponse(
        **info.model_dump(), answer=answer.answer, finish_reason=_finish(answer),
        usage=Usage.of(answer),
    )  # fmt: skip
