"""The ingestion pipeline: files or uploaded text → chunks in the vector store and the
sparse index, idempotently and incrementally.

Entry points (the CLI and the HTTP API call these; ``services`` is duck-typed,
see ``ingest.types.IngestServices``):

- ``ingest_paths(services, paths, …) -> IngestReport``
- ``ingest_text(services, source, text_or_bytes, …) -> SourceResult``
- ``list_sources(services, collection) -> list[SourceInfo]``
- ``remove_source(services, source, collection) -> SourceInfo`` (``SourceNotFound``)

A source is unchanged when its bytes (SHA-256) and the chunking (embedder,
size, overlap, ``READING``) are the same as when it was committed; then nothing
is read past the hash. Identical bytes under two sources are two sources.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import Found, Skip, discover, ensure_regular, kind_of, load, read_limited
from ingest.split import Splitter
from ingest.types import (
    Budget,
    IngestReport,
    IngestServices,
    Progress,
    ProgressEvent,
    SourceInfo,
    validate_source,
)
from ingest.types import SourceResult as SourceResult
from ingest.writer import CollectionWriter
from memory.errors import (
    BudgetExceeded,
    Busy,
    Cancelled,
    EmbedderMismatch,
    InvalidInput,
    OverlayError,
    SourceNotFound,
    StoreUnavailable,
    TooLarge,
)
from memory.tables.manifest import SourceManifest, SourceRecord

# end the run, not just one source
# How a file's bytes become text and chunks: raised when that changes (2: typesetting undone,
# ingest.typeset; 3: HTML's <pre> a fenced block), so the next ingest reads every source again
# rather than calling it unchanged.
READING = 3
_FATAL = (StoreUnavailable, EmbedderMismatch, Busy, BudgetExceeded, Cancelled)


@dataclass
class _Run:
    """Everything one run needs to ingest a source."""

    writer: CollectionWriter
    splitter: Splitter
    chunking: str
    max_bytes: int
    max_pages: int
    progress: Progress | None


def _open_run(
    services: IngestServices,
    writer: CollectionWriter,
    chunk_size: int | None,
    chunk_overlap: int | None,
    progress: Progress | None,
) -> _Run:
    s = services.settings
    size = chunk_size or s.ingest.chunk_size
    overlap = s.ingest.chunk_overlap if chunk_overlap is None else chunk_overlap
    emb = services.embedder
    splitter = Splitter(emb.count_tokens, emb.max_tokens, size, overlap)
    chunking = f"{emb.name}:{splitter.size}:{splitter.overlap}:read{READING}"
    limit = int(s.ingest.max_file_mb * 2**20)
    return _Run(writer, splitter, chunking, limit, s.ingest.max_pdf_pages, progress)


def ingest_paths(
    services: IngestServices,
    paths: Sequence[str | Path],
    *,
    collection: str = "default",
    chunk_size: int | None = None,
    chunk_overlap: int | None = None,
    prune: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest files and folders; sources that fail are reported, the rest go on."""
    t0 = time.perf_counter()
    report = IngestReport(collection)
    found = list(discover(paths, include, exclude))
    with CollectionWriter(services, collection) as writer:
        run = _open_run(services, writer, chunk_size, chunk_overlap, progress)
        if progress:
            progress(ProgressEvent("start", total=len(found)))
        for i, item in enumerate(found):
            report.results.append(_ingest_file(run, item))
            if progress:
                last = report.results[-1]
                progress(ProgressEvent("source", last.source, i + 1, len(found), last.written))
        if prune:
            report.results.extend(_prune(writer, paths))
    report.seconds = time.perf_counter() - t0
    return report


def ingest_text(
    services: IngestServices,
    source: str,
    text_or_bytes: str | bytes,
    *,
    filename: str | None = None,
    collection: str = "default",
    chunk_size: int | None = None,
    chunk_overlap: int | None = None,
    progress: Progress | None = None,
    budget: Budget | None = None,
) -> SourceResult:
    """Ingest one upload or text under the name ``source``; raises on bad input.

    The type comes from ``filename`` (or ``source``), plain text when neither has
    a known extension. ``budget``: a time limit and a cancel flag; when either ends the
    run, ``BudgetExceeded`` / ``Cancelled`` is raised and nothing of it is kept.
    """
    validate_source(source)
    data = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else text_or_bytes
    name = filename or source
    if kind_of(name) is None:
        if filename:
            raise InvalidInput(f"unsupported file type {Path(filename).suffix or '(none)'!r}")
        name = "text.txt"
    limit = int(services.settings.ingest.max_file_mb * 2**20)
    if len(data) > limit:
        raise TooLarge(f"{len(data) / 2**20:.1f} MB is over the {limit / 2**20:.0f} MB limit")
    with CollectionWriter(services, collection) as writer:
        writer.budget = budget or Budget()
        run = _open_run(services, writer, chunk_size, chunk_overlap, progress)
        result = _ingest_data(run, source, data, name)
    if result.status in ("failed", "skipped"):
        raise InvalidInput(f"{source}: {result.reason}")
    return result


def list_sources(services: IngestServices, collection: str = "default") -> list[SourceInfo]:
    """The collection's sources with their chunk counts, sorted by name."""
    manifest = SourceManifest(services.redis.client, services.namespace, collection)
    return [_info(rec) for _, rec in sorted(manifest.all().items())]


def remove_source(services: IngestServices, source: str, collection: str = "default") -> SourceInfo:
    """Delete a source's chunks, postings and manifest entry."""
    validate_source(source)
    with CollectionWriter(services, collection) as writer:
        candidates = [source, str(Path(source).expanduser().absolute())]
        for name in dict.fromkeys(candidates):
            rec = writer.remove(name)
            if rec is not None:
                return _info(rec)
    raise SourceNotFound(f"no source {source!r} in collection {collection!r}")


def _info(rec: SourceRecord) -> SourceInfo:
    return SourceInfo(
        rec.source, rec.chunks, rec.content_hash, rec.ingested_at, str(rec.meta.get("kind", ""))
    )


def _ingest_file(run: _Run, item: Found) -> SourceResult:
    source = str(item.path)
    try:
        validate_source(source)
    except InvalidInput as exc:
        return SourceResult(source, "failed", reason=exc.message)
    if item.missing:
        return SourceResult(source, "failed", reason="no such file or directory")
    try:
        ensure_regular(item.path)  # a FIFO would block the run: not even opened
    except Skip as exc:
        return SourceResult(source, "skipped", reason=str(exc))
    except OSError as exc:
        return SourceResult(source, "failed", reason=f"cannot read: {exc.strerror or exc}")
    if kind_of(item.path.name) is None:
        return SourceResult(
            source, "skipped", reason=f"unsupported file type {item.path.suffix or '(none)'!r}"
        )
    try:
        data = read_limited(item.path, run.max_bytes)
    except Skip as exc:  # a FIFO, a device, a socket: never opened
        return SourceResult(source, "skipped", reason=str(exc))
    except TooLarge as exc:
        return SourceResult(source, "failed", reason=exc.message)
    except OSError as exc:
        return SourceResult(source, "failed", reason=f"cannot read: {exc.strerror or exc}")
    return _ingest_data(run, source, data, item.path.name)


def _ingest_data(run: _Run, source: str, data: bytes, name: str) -> SourceResult:
    t0 = time.perf_counter()
    content_hash = hashlib.sha256(data).hexdigest()
    old = run.writer.manifest.get(source)
    if old and old.content_hash == content_hash and old.meta.get("chunking") == run.chunking:
        return SourceResult(source, "unchanged", old.chunks, seconds=time.perf_counter() - t0)
    try:
        kind, sections = load(data, name, run.writer.budget.check, run.max_pages)
        chunks = run.splitter.split(source, kind, sections, run.writer.budget.check)
    except Skip as exc:
        return SourceResult(source, "skipped", reason=str(exc))
    except _FATAL:
        raise
    except OverlayError as exc:
        return SourceResult(source, "failed", reason=exc.message)
    except Exception as exc:  # a loader choking on hostile input fails that source only
        return SourceResult(source, "failed", reason=f"cannot load ({type(exc).__name__}: {exc})")
    meta = {"kind": kind, "bytes": len(data), "chunking": run.chunking}
    record = SourceRecord(source, content_hash, [], 0.0, meta)
    written = run.writer.write(record, chunks, run.progress)
    status = "changed" if old else "new"
    reason = "" if chunks else "no text"
    return SourceResult(source, status, len(chunks), written, reason, time.perf_counter() - t0)


def _prune(writer: CollectionWriter, paths: Sequence[str | Path]) -> list[SourceResult]:
    """Remove sources under ``paths`` whose files no longer exist."""
    roots = [str(Path(p).expanduser().resolve()) for p in paths]
    results = []
    for source in sorted(writer.manifest.all()):
        under = any(source == r or source.startswith(r.rstrip(os.sep) + os.sep) for r in roots)
        if under and not Path(source).exists():
            rec = writer.remove(source)
            results.append(SourceResult(source, "removed", rec.chunks if rec else 0))
    return results
