"""Loaders: bytes of a supported file → plain-text sections, never a crash on bad bytes.

Supported: .txt .text .md .markdown .rst .html .htm .pdf .json .jsonl. A PDF
gives one section per page; a JSON/JSONL file one section per record (its
``text``/``content``/``body`` field, the ``title`` in front). Unknown types and
binary content raise ``Skip`` (with the reason); unreadable content (a corrupt
PDF, invalid JSON) raises ``InvalidInput`` and fails that one source.
"""

from __future__ import annotations

import fnmatch
import io
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory.errors import InvalidInput, TooLarge

KINDS = {
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".json": "json",
    ".jsonl": "jsonl",
}
TEXT_FIELDS = ("text", "content", "body", "page_content")


class Skip(Exception):
    """The file is not something we ingest (unknown type, binary); carries the reason."""


@dataclass
class Section:
    """A run of text that is split on its own: a page, a record, or a whole file."""

    text: str
    page: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def kind_of(name: str) -> str | None:
    return KINDS.get(Path(name).suffix.lower())


def read_limited(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing (before reading) anything over ``max_bytes``."""
    size = path.stat().st_size
    if size > max_bytes:
        raise TooLarge(
            f"{size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit "
            "(OVERLAY_INGEST__MAX_FILE_MB); split the file or raise the limit"
        )
    with open(path, "rb") as fh:
        data = fh.read(size + 1)  # read(n) allocates n bytes up front: ask for what is there
    if len(data) > max_bytes:
        raise TooLarge(f"the file grew past the {max_bytes / 2**20:.0f} MB limit while read")
    return data


def decode(data: bytes) -> str:
    """Text of ``data``: UTF-8 (a few bad bytes replaced), else the detected encoding."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    if bad <= good // 10:
        return text  # UTF-8 with a few broken bytes: replace them, keep the rest
    from charset_normalizer import from_bytes

    matches = from_bytes(data[: 1 << 18])
    best = matches.best()
    if best is None:
        return text
    encoding = best.encoding
    for m in matches:  # on a tie, the most common legacy encoding (a superset of Latin-1)
        if m.encoding == "cp1252" and m.chaos <= best.chaos and m.coherence >= best.coherence:
            encoding = "cp1252"
    return data.decode(encoding, errors="replace")


def load(data: bytes, name: str) -> tuple[str, list[Section]]:
    """``(kind, sections)`` of the file called ``name`` holding ``data``."""
    kind = kind_of(name)
    if kind is None:
        raise Skip(f"unsupported file type {Path(name).suffix or '(none)'!r}")
    if kind == "pdf":
        return kind, _pdf(data)
    if b"\x00" in data[:8192]:
        raise Skip("binary content (NUL bytes) in a text file")
    text = decode(data)
    if kind == "html":
        return kind, [Section(_html_text(text))]
    if kind in ("json", "jsonl"):
        return kind, _records(text, kind)
    return kind, [Section(text)]


def _html_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def _pdf(data: bytes) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except InvalidInput:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise InvalidInput(f"cannot read the PDF ({type(exc).__name__}: {exc})") from exc
    return [Section(text, page=i + 1) for i, text in enumerate(pages)]


def _records(text: str, kind: str) -> list[Section]:
    if kind == "jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                rows.append(_parse_json(line, f"line {n}"))
    else:
        data = _parse_json(text, "the file")
        rows = data if isinstance(data, list) else [data]
    sections = []
    for i, row in enumerate(rows):
        section = _record_section(row, i)
        if section is not None:
            sections.append(section)
    return sections


def _parse_json(raw: str, where: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"invalid JSON at {where}: {exc.msg} (column {exc.colno})") from exc


def _record_section(row: Any, index: int) -> Section | None:
    if isinstance(row, str):
        return Section(row, meta={"record": str(index)})
    if not isinstance(row, dict):
        return None
    body = next((row[f] for f in TEXT_FIELDS if isinstance(row.get(f), str)), None)
    if body is None:
        return None
    title = row.get("title")
    text = f"{title}\n\n{body}" if isinstance(title, str) and title.strip() else body
    rid = row.get("_id", row.get("id", index))
    return Section(text, meta={"record": str(rid)})


@dataclass
class Found:
    """A path named on the command line or found under a folder."""

    path: Path
    missing: bool = False


def discover(
    paths: Sequence[str | Path], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Iterator[Found]:
    """Files under ``paths`` (folders recursively, hidden entries skipped), sorted."""
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            yield Found(path.resolve(), missing=True)
        elif path.is_dir():
            for file in _walk(path.resolve()):
                rel = file.relative_to(path.resolve()).as_posix()
                if _wanted(rel, include, exclude):
                    yield Found(file)
        else:
            yield Found(path.resolve())


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _wanted(rel: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]

    def hit(patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)

    if include and not hit(include):
        return False
    return not (exclude and hit(exclude))
