"""Typed responses of the chat routes, so OpenAPI documents every field a client reads.

``ChatCompletion`` / ``ChatCompletionChunk`` follow OpenAI's shapes and carry an ``overlay``
object (citations, answer kind, session id and where it came from, timings); ``ChatResponse``
is the native ``/v1/chat``; ``EmbeddingList`` and ``ModelList`` are OpenAI's. Each is built
from the library's ``Answer`` (``from_answer``), never from an untyped dict.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field

from overlay.record import ABSTENTIONS
from overlay.turn import Answer

SessionSource = Literal["header", "user", "derived", "body", "none"]


class Citation(BaseModel):
    id: str
    source: str
    text: str = Field(description="The cited passage.")
    score: float
    quote: str | None = Field(
        default=None,
        description="The passage's own words the answer rests on (its sentence, an exact "
        "substring of text), on the first citation of an answer read from one passage; "
        "null otherwise.",
    )


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Tokens the model read, all passes (scoring, answer).")
    completion_tokens: int = Field(description="Tokens generated; 0 when nothing was generated.")
    total_tokens: int

    @classmethod
    def of(cls, answer: Answer) -> Usage:
        return cls.model_validate(answer.to_dict()["usage"])


class TurnInfo(BaseModel):
    """What Overlay adds to a turn: why the answer is what it is."""

    citations: list[Citation]
    abstained: bool
    answer_kind: str = Field(description="span | sentence | generated | fallback | abstained")
    abstained_by: str | None = Field(
        default=None,
        description="Why the turn abstained; null when it answered. "
        + "; ".join(f"{code}: {what}" for code, what in ABSTENTIONS.items()),
    )
    session_id: str | None
    session_source: SessionSource = Field(
        description="header (X-Session-Id), user (the user field), body (session_id), "
        "none (no memory kept; derived is no longer produced: it merged conversations)"
    )
    adapter: str | None
    mode: str
    collection: str
    turn_id: str
    retrieval_query: str = Field(description="The query retrieval used (follow-ups resolved).")
    degraded: bool = Field(
        default=False, description="A store was down: candidates came from Redis (sparse) only."
    )
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, answer: Answer, source: SessionSource) -> Self:
        """The turn's one record (``Answer.to_dict``, the CLI's ``--json``), the fields this
        model has, and where the session id came from."""
        record = answer.to_dict()
        fields = {k: record[k] for k in cls.model_fields if k in record}
        return cls.model_validate({**fields, "session_source": source})


class Message(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: Message
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    overlay: TurnInfo


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed completion. Deltas carry the answer's pieces as
    the model produces them; the last content chunk has ``finish_reason`` and ``overlay``;
    with ``stream_options.include_usage`` a final chunk has ``choices: []`` and ``usage``."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    overlay: TurnInfo | None = None


class ChatResponse(TurnInfo):
    """The native turn: the answer plus everything ``TurnInfo`` says, and token usage."""

    answer: str
    finish_reason: Literal["stop", "length"]
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "overlay"
    kind: Literal["chat", "embedding"] = Field(description="Overlay: what the model is for.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="Floats, or base64 of float32 values.")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
