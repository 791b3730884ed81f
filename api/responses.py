"""Response bodies of the non-chat routes, so that OpenAPI (``/docs``) documents each one.

The shapes are the ones the CLI's ``--json`` prints (each model mirrors a ``to_dict`` of
``ingest``, ``memory`` or ``overlay``); a route builds its model from the library's
own value and returns it, so no untyped dict crosses the edge. Request bodies, the
retrieval and session-memory shapes of the contract and the error body stay in
``api.schemas``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# --- documents ---------------------------------------------------------------------


class SourceRecord(BaseModel):
    """One ingested source as the manifest keeps it."""

    source: str
    chunks: int
    content_hash: str
    ingested_at: float = Field(description="Unix time of the last write.")
    kind: str = Field("", description="Loader used: txt, md, html, pdf, …")


class IngestOutcome(BaseModel):
    """What one ingestion did with one source."""

    source: str
    status: Literal["new", "changed", "unchanged", "skipped", "failed", "removed"]
    chunks: int = 0
    written: int = Field(0, description="Chunks embedded and stored by this request.")
    reason: str = ""
    seconds: float = 0.0


class DocumentIngestResponse(BaseModel):
    collection: str
    document: IngestOutcome


class DocumentListResponse(BaseModel):
    collection: str
    documents: list[SourceRecord]


class DocumentRemoveResponse(BaseModel):
    collection: str
    removed: SourceRecord


# --- sessions ----------------------------------------------------------------------


def _empty(value: object) -> bool:
    return not value


class TimeMention(BaseModel):
    """A relative time in a turn resolved against when it was said (``memory.sessions.when``)."""

    text: str = Field(examples=["last week"])
    start: float = Field(description="Start of the span it names (epoch seconds, UTC).")
    end: float
    label: str = Field(examples=["the week before 9 June 2023"])


class SessionTurnRecord(BaseModel):
    """A logged turn (``Turn.to_dict``: ``speaker`` and ``when`` only when there are some)."""

    id: int = Field(description="Position in the session's log, from 0.")
    role: str
    text: str
    ts: float
    speaker: str = Field("", exclude_if=_empty, description="Who said it, when known.")
    when: list[TimeMention] = Field(default_factory=list, exclude_if=_empty)


class FactChange(BaseModel):
    """An earlier value of a session fact (its history is oldest first)."""

    value: str
    ts: float | None = None
    turn: str = ""
    session: str = ""


class SessionFactRecord(BaseModel):
    key: str
    value: str
    text: str = Field(description="The fact as a sentence, in the user's own words.")
    ts: float
    session: str
    turn: str = Field(description="Id of the turn that stated it ('' when set by hand).")
    history: list[FactChange]
    history_line: str = Field(examples=["name: Alex → Bob"])


class SessionResponse(BaseModel):
    session_id: str
    user: str | None
    count: int = Field(description="Turns in the session's log.")
    turns: list[SessionTurnRecord]
    facts: list[SessionFactRecord]


class SessionFactsResponse(BaseModel):
    session_id: str
    facts: list[SessionFactRecord]


class SessionFactResponse(BaseModel):
    session_id: str
    fact: SessionFactRecord


class ForgetResponse(BaseModel):
    session_id: str
    forgotten: bool


class TurnRemoved(BaseModel):
    session_id: str
    removed: SessionTurnRecord = Field(description="The turn as it was logged.")


class ImportResponse(BaseModel):
    session_id: str
    turns: int = Field(description="Turns restored (ids, times and speakers kept).")
    facts: int = Field(description="Facts restored with their history.")


# --- taught facts, feedback, adapters -------------------------------------------------


class TaughtFactRecord(BaseModel):
    id: str
    subject: str
    relation: str
    object: str
    weight: float = Field(description="Rank among the objects of (subject, relation).")
    text: str


class TaughtFactsResponse(BaseModel):
    facts: list[TaughtFactRecord]


class TaughtFactResponse(BaseModel):
    fact: TaughtFactRecord


class FeedbackResponse(BaseModel):
    turn_id: str
    helpful: bool
    candidates: list[str] = Field(description="The candidate ids the vote moved.")
    terms: list[str] = Field(description="The question's terms the weights are kept under.")
    boosts: dict[str, float] = Field(description="Candidate → its boost after the vote.")


class AdapterRecord(BaseModel):
    name: str
    rank: int | None
    target_modules: list[str]
    size_bytes: int
    base_model: str | None
    loaded: bool = False
    error: str | None = Field(None, description="Why the adapter cannot be used, if so.")


class AdaptersResponse(BaseModel):
    adapters: list[AdapterRecord]


# --- operations ----------------------------------------------------------------------


class HealthResponse(BaseModel):
    status: Literal["ok"]


class ReadyResponse(BaseModel):
    status: Literal["ready"]
    stores: dict[str, str] = Field(examples=[{"redis": "ok", "chroma": "ok"}])


class CollectionList(BaseModel):
    """``GET /v1/collections``: the tenant's document collections."""

    collections: list[str]
    default: str
