"""Request and response bodies of the HTTP API (the shapes outside tools rely on)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.types import MAX_SOURCE_CHARS

Method = Literal["dense", "sparse", "hybrid", "chosen"]
COLLECTION = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$"


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


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; fields Overlay does not use (temperature, …) are accepted."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(default="overlay", max_length=200, examples=["overlay"])
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    user: str | None = Field(default=None, max_length=256, description="Session id.")
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)


# --- native chat ----------------------------------------------------------------
class ChatRequest(Strict):
    message: str = Field(min_length=1, examples=["How many days of paid leave do I get?"])
    session_id: str | None = Field(default=None, max_length=128)
    collection: str | None = Field(default=None, pattern=COLLECTION)
    adapter: str | None = Field(default=None, max_length=128)
    mode: Literal["generate", "choose"] | None = None
    k: int | None = Field(default=None, ge=1, le=100)


# --- retrieval ------------------------------------------------------------------
class RetrieveRequest(Strict):
    query: str = Field(min_length=1, examples=["paid annual leave"])
    collection: str | None = Field(default=None, pattern=COLLECTION)
    k: int | None = Field(default=None, ge=1, le=100)
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


class MemoryResponse(BaseModel):
    session_id: str
    results: list[Memory]


class SessionFactRequest(Strict):
    key: str = Field(min_length=1, max_length=200, examples=["name"])
    value: str = Field(min_length=1, max_length=4000, examples=["Ada"])


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
