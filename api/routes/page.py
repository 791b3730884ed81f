"""The chat page for people: ``GET /`` and its three static files (plain HTML/JS/CSS shipped in
the package under ``api/static``, no build step). The page talks to the same public API as
any client: ``/v1/models``, ``/v1/collections``, streamed ``/v1/chat/completions``,
``/v1/sessions/{id}`` and ``/v1/feedback``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from memory.errors import NotFound

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static"
_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
_NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=_NO_CACHE)


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    if name not in _FILES:  # a fixed list: no path from the request reaches the disk
        raise NotFound(f"no static file {name!r}")
    return FileResponse(STATIC / name, media_type=_FILES[name], headers=_NO_CACHE)
