"""Request bodies of the HTTP API, the contract's retrieval and session shapes, the error body.

The other routes' response bodies are in ``api.responses``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.types import MAX_SOURCE_CHARS
from overlay.request import COLLECTION_PATTERN, MAX_K, Method, Mode

COLLECTION = COLLECTION_PATTERN  # the library's rules (overlay.request), never a copy


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- OpenAI-compatible chat ---------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=64)
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "\n".join(p.text for p in self.content if p.type == "text" and p.text)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request. Honoured: ``messages`` (history and system), ``max_tokens`` /
    ``max_completion_tokens``, ``temperature``, ``top_p``, ``seed``, ``stop``, ``stream``,
    ``stream_options``, ``user``. Refused with a 400 naming it: what Overlay cannot do
    (``n`` > 1, tools that must be called, JSON output formats, logprobs, penalties ≠ 0).
    Other fields clients send by default are accepted."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(default="overlay", max_length=200, examples=["overlay"])
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=256, description="Session id.")
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    collection: str | None = Field(
        default=None, pattern=COLLECTION, description="Overlay: the collection to answer from."
    )
    mode: Mode | None = Field(
        default=None,
        description="Overlay: read (a short span read by the reader adapter; the default), "
        "generate (grounded prose), or choose (the best sentence, nothing generated).",
    )


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request: ``input`` is a string or a list of strings."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=200, examples=["all-MiniLM-L6-v2"])
    input: str | list[str] = Field(examples=["paid annual leave"])
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = Field(default=None, max_length=256)


# --- native chat ----------------------------------------------------------------
class ChatRequest(Strict):
    message: str = Field(min_length=1, examples=["How many days of paid leave do I get?"])
    session_id: str | None = Field(default=None, max_length=128)
    collection: str | None = Field(default=None, pattern=COLLECTION)
    adapter: str | None = Field(default=None, max_length=128)
    mode: Mode | None = None
    k: int | None = Field(default=None, ge=1, le=MAX_K)


# --- retrieval ------------------------------------------------------------------
class RetrieveRequest(Strict):
    query: str = Field(min_length=1, examples=["paid annual leave"])
    collection: str | None = Field(default=None, pattern=COLLECTION)
    k: int | None = Field(default=None, ge=1, le=MAX_K)
    method: Method = "hybrid"


class Result(BaseModel):
    id: str
    source: str
    text: str
    score: float
    kind: str


class RetrieveResponse(BaseModel):
    query: str
    method: str
    results: list[Result]


# --- sessions -------------------------------------------------------------------
class Turn(Strict):
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)
    ts: float | None = Field(default=None, ge=0, le=1e11)


class TurnsRequest(Strict):
    turns: list[Turn] = Field(min_length=1, max_length=1000)


class TurnsResponse(BaseModel):
    session_id: str
    added: int


class Memory(BaseModel):
    id: str
    kind: str
    text: str
    score: float
    ts: float | None = None
    role: str | None = Field(default=None, description="A turn's speaker.")
    key: str | None = Field(default=None, description="A fact's key (e.g. `name`).")
    value: str | None = Field(default=None, description="A fact's current value.")
    history: str | None = Field(default=None, description="A fact's earlier values.")
    session: str | None = None


class MemoryResponse(BaseModel):
    session_id: str
    results: list[Memory]


class SessionFactRequest(Strict):
    key: str = Field(min_length=1, max_length=200, examples=["name"])
    value: str = Field(min_length=1, max_length=4000, examples=["Ada"])


class FactCorrection(Strict):
    value: str = Field(min_length=1, max_length=4000, examples=["Bergen"])


# --- documents --------------------------------------------------------------------
class DocumentRequest(Strict):
    source: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS, examples=["notes/leave.md"])
    text: str = Field(min_length=1)
    collection: str | None = Field(default=None, pattern=COLLECTION)


# --- facts and feedback -------------------------------------------------------------
class FactRequest(Strict):
    subject: str = Field(min_length=1, max_length=500, examples=["Halvorsen Instruments"])
    relation: str = Field(min_length=1, max_length=200, examples=["support phone number"])
    object: str = Field(min_length=1, max_length=2000, examples=["+47 22 00 00 00"])


class FeedbackRequest(Strict):
    turn_id: str = Field(min_length=1, max_length=200)
    helpful: bool
    candidate_id: str | None = Field(default=None, max_length=512)


class ErrorBody(BaseModel):
    type: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 422, 429, 503)
}
