"""Value types and the services protocol of the ingestion package."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from memory.embeddings import Embedder
from memory.errors import BudgetExceeded, Cancelled, InvalidInput
from memory.stores.redis import RedisStore
from memory.stores.vectors import VectorStore
from memory.stores.weights import WeightTable

MAX_SOURCE_CHARS = 1024
"""The one limit on a source name, on every path: JSON, multipart, query string, CLI."""


def validate_source(source: str) -> str:
    """``source`` if it is a usable source name (1–1024 characters, not blank, no NUL)."""
    if not source or not source.strip():
        raise InvalidInput("a source name is required")
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidInput(
            f"the source name is {len(source)} characters; the limit is {MAX_SOURCE_CHARS}"
        )
    if "\x00" in source:
        raise InvalidInput("a source name cannot contain a NUL character")
    return source


class Budget:
    """How long one ingestion may run, and whether its caller still wants it.

    ``check()`` is called between units of work (pieces split, batches embedded); it raises
    ``BudgetExceeded`` past ``seconds`` and ``Cancelled`` once ``cancel`` is set, and the
    writer then deletes whatever the run had written.
    """

    def __init__(self, seconds: float | None = None, cancel: threading.Event | None = None):
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.cancel = cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("the client went away; the ingestion was stopped")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetExceeded(
                f"ingesting this document took over the {self.seconds:.0f} s limit; "
                "nothing of it was kept (split it into smaller documents)"
            )


class IngestServices(Protocol):
    """What ingestion needs of ``overlay.services.Services`` (duck-typed: ingest never
    imports overlay)."""

    @property
    def settings(self) -> Any: ...  # chunk_size, chunk_overlap, max_file_mb, bm25_k1, bm25_b

    @property
    def namespace(self) -> str: ...

    @property
    def redis(self) -> RedisStore: ...

    @property
    def weights(self) -> WeightTable: ...

    @property
    def embedder(self) -> Embedder: ...

    def vectors(self, collection: str) -> VectorStore: ...


@dataclass
class SourceResult:
    """What happened to one source in one run."""

    source: str
    status: str  # new | changed | unchanged | skipped | failed | removed
    chunks: int = 0
    written: int = 0  # chunks embedded and stored in this run
    reason: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        return d


@dataclass
class IngestReport:
    """The summary of a run over many sources."""

    collection: str
    results: list[SourceResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def chunks_written(self) -> int:
        return sum(r.written for r in self.results)

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_written / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        statuses = ("new", "changed", "unchanged", "skipped", "failed", "removed")
        return {
            "collection": self.collection,
            "sources": {s: self.count(s) for s in statuses},
            "chunks": self.chunks_written,
            "seconds": round(self.seconds, 3),
            "chunks_per_s": round(self.chunks_per_s, 2),
            "results": [r.to_dict() for r in self.results],
        }


@dataclass
class SourceInfo:
    """A source as listed by ``overlay sources``."""

    source: str
    chunks: int
    content_hash: str
    ingested_at: float
    kind: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProgressEvent:
    """Reported as a run goes: stage is one of ``start``, ``pending``, ``vectors``,
    ``sparse``, ``committed``, ``collected``, ``source``."""

    stage: str
    source: str = ""
    done: int = 0  # sources finished
    total: int = 0  # sources found
    chunks: int = 0  # chunks written so far in this run


Progress = Callable[[ProgressEvent], None]
