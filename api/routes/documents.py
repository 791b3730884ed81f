"""Documents: ``POST /v1/documents`` (multipart upload or JSON text), ``GET``, ``DELETE``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Header, Query, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import ServicesDep
from api.responses import (
    DocumentIngestResponse,
    DocumentListResponse,
    DocumentRemoveResponse,
    SourceRecord,
)
from api.schemas import COLLECTION, ERRORS, DocumentRequest
from ingest.pipeline import ingest_text, list_sources, remove_source
from ingest.types import MAX_SOURCE_CHARS, Budget
from memory.errors import InvalidInput, TooLarge
from memory.tables.idempotency import Idempotency, fingerprint
from overlay.services import validate_collection

router = APIRouter(prefix="/v1/documents", tags=["documents"], responses=ERRORS)
T = TypeVar("T")

_UPLOAD_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "source": {"type": "string", "minLength": 1, "maxLength": MAX_SOURCE_CHARS},
        "collection": {"type": "string", "pattern": COLLECTION},
    },
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentRequest.model_json_schema()},
            "multipart/form-data": {"schema": _UPLOAD_SCHEMA},
        },
    }
}


Parsed = tuple[str, bytes | str, str | None, str | None]  # source, content, filename, collection


async def _from_form(request: Request, limit: int) -> Parsed:
    form = await request.form(max_files=1, max_fields=8, max_part_size=1_048_576)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("multipart upload needs a 'file' part")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"upload is over the {limit / 2**20:.0f} MB limit")
    source = form.get("source") or upload.filename
    collection = form.get("collection")
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput("the upload needs a 'source' field or a file name")
    return source, data, upload.filename, collection if isinstance(collection, str) else None


async def _from_json(request: Request) -> Parsed:
    try:
        body = DocumentRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidInput(f"{where}: {first.get('msg', 'invalid')}") from None
    return body.source, body.text, None, body.collection


@router.post("", openapi_extra=_BODY)
async def post_document(
    request: Request,
    services: ServicesDep,
    idempotency_key: str | None = Header(None, max_length=128),
) -> DocumentIngestResponse:
    """Ingest one document: an uploaded file (txt, md, html, pdf, …) or JSON ``{source, text}``.

    Idempotent per source: unchanged content is skipped, changed content replaces the old.
    An error answer has kept nothing of the upload; with an ``Idempotency-Key`` header a
    retry of a request that succeeded gets the same answer.
    """
    limit = int(services.settings.ingest.max_file_mb * 2**20)
    ctype = request.headers.get("content-type", "")
    parsed: Parsed
    if ctype.startswith("multipart/form-data"):
        parsed = await _from_form(request, limit)
    elif ctype.startswith("application/json"):
        parsed = await _from_json(request)
    else:
        raise InvalidInput("send multipart/form-data with a 'file', or JSON {source, text}")
    source, data, filename, collection = parsed
    collection = validate_collection(collection or services.settings.collection)
    budget = Budget(services.settings.ingest.budget_s, threading.Event())

    def ingest() -> dict[str, Any]:
        result = ingest_text(
            services, source, data, filename=filename, collection=collection, budget=budget
        )
        return {"collection": collection, "document": result.to_dict()}

    idem = Idempotency(services.redis.client, services.namespace)
    fp = fingerprint(source, data, filename or "")
    out = await _until_disconnect(
        request, budget, lambda: idem.run(f"docs:{collection}", idempotency_key, ingest, fp)
    )
    answer = DocumentIngestResponse.model_validate(out)
    if answer.document.written:  # its chunks' views read ahead of the first question
        request.app.state.warmer.add(services, [collection], answer.document.source)
    return answer


async def _until_disconnect(request: Request, budget: Budget, work: Callable[[], T]) -> T:
    """Run ``work`` in a thread; if the client goes away first, tell it to stop (its next
    ``budget.check()`` raises ``Cancelled`` and it deletes what it wrote)."""
    assert budget.cancel is not None
    cancel = budget.cancel

    async def watch() -> None:
        while not cancel.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            await anyio.sleep(0.2)

    watcher = asyncio.ensure_future(watch())
    try:
        return await anyio.to_thread.run_sync(work)
    finally:
        watcher.cancel()


@router.get("")
def get_documents(
    services: ServicesDep, collection: str | None = Query(None, pattern=COLLECTION)
) -> DocumentListResponse:
    """The collection's sources with chunk counts and content hashes (404: no such collection)."""
    name = services.require_collection(collection or services.settings.collection)
    documents = [SourceRecord.model_validate(s.to_dict()) for s in list_sources(services, name)]
    return DocumentListResponse(collection=name, documents=documents)


@router.delete("")
def delete_document(
    services: ServicesDep,
    source: str = Query(..., min_length=1, max_length=MAX_SOURCE_CHARS),
    collection: str | None = Query(None, pattern=COLLECTION),
) -> DocumentRemoveResponse:
    """Remove a source: its chunks, sparse postings and manifest entry."""
    name = collection or services.settings.collection
    removed = SourceRecord.model_validate(remove_source(services, source, name).to_dict())
    return DocumentRemoveResponse(collection=name, removed=removed)
