"""Loaders: bytes of a supported file → plain-text sections, never a crash on bad bytes.

Supported: .txt .text .md .markdown .rst .html .htm .pdf .docx .json .jsonl. A
PDF gives one section per page; a Word document its body as Markdown
(``ingest.docx``); a JSON/JSONL file one section per record (its
``text``/``content``/``body`` field, the ``title`` in front). Unknown types and
binary content raise ``Skip`` (with the reason); unreadable content (a corrupt
PDF, invalid JSON) raises ``InvalidInput`` and fails that one source. Every
kind's text loses its typesetting (``ingest.typeset``: ligatures, soft hyphens,
a PDF's words hyphenated across lines).
"""

from __future__ import annotations

import fnmatch
import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.docx import docx_markdown
from ingest.formats import MAX_PAGES, Check, html_redirect, html_text, pdf_pages
from ingest.typeset import joined_lines, plain_letters
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
    ".docx": "docx",
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


_KINDS_OF_FILE = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
}


def _regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        what = _KINDS_OF_FILE.get(stat.S_IFMT(mode), "not a regular file")
        raise Skip(f"not a regular file ({what}); it was not opened")


def ensure_regular(path: Path) -> None:
    """``Skip`` (with what it is) unless ``path`` is a regular file; nothing is opened."""
    _regular(path.stat().st_mode)


def read_limited(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing (before reading) anything over ``max_bytes``; anything
    but a regular file (a FIFO would block the run forever) raises ``Skip`` unopened."""
    ensure_regular(path)
    # O_NONBLOCK: should it have turned into a FIFO since, open() still returns at once
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    with open(fd, "rb") as fh:
        info = os.fstat(fd)
        _regular(info.st_mode)
        if info.st_size > max_bytes:
            raise TooLarge(
                f"{info.st_size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit "
                "(OVERLAY_INGEST__MAX_FILE_MB); split the file or raise the limit"
            )
        os.set_blocking(fd, True)
        data = fh.read(info.st_size + 1)  # read(n) allocates n bytes: ask for what is there
    if len(data) > max_bytes:
        raise TooLarge(f"the file grew past the {max_bytes / 2**20:.0f} MB limit while read")
    return data


_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
SAMPLE = 8192


def _samples(data: bytes) -> list[bytes]:
    """Head, middle and tail of ``data`` (the whole of a small file)."""
    if len(data) <= 3 * SAMPLE:
        return [data]
    mid = len(data) // 2 - SAMPLE // 2
    return [data[:SAMPLE], data[mid : mid + SAMPLE], data[-SAMPLE:]]


def _bom_text(data: bytes) -> str | None:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")  # the codec reads the BOM's order
    return None


def _looks_binary(text: str) -> bool:
    """Many replacement or control characters in any sample of decoded text."""
    for part in _samples(text.encode("utf-8", errors="replace")):
        sample = part.decode("utf-8", errors="replace")
        bad = sum(1 for ch in sample if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f"))
        if bad > len(sample) // 10:
            return True
    return False


def text_of(data: bytes) -> str:
    """Text of a text file's ``data``; ``Skip`` for binary content, judged on samples of
    the head, middle and tail (text in front of megabytes of noise is still noise)."""
    text = _bom_text(data)
    if text is None:
        if any(b"\x00" in part for part in _samples(data)):
            raise Skip("binary content (NUL bytes) in a text file")
        text = decode(data)
    if _looks_binary(text):
        raise Skip("binary content (control or undecodable bytes) in a text file")
    return text


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


def load(
    data: bytes, name: str, check: Check | None = None, max_pages: int = MAX_PAGES
) -> tuple[str, list[Section]]:
    """``(kind, sections)`` of the file called ``name`` holding ``data``; ``check`` (the
    run's budget) is called while parsing, per page and every few hundred elements."""
    kind = kind_of(name)
    if kind is None:
        raise Skip(f"unsupported file type {Path(name).suffix or '(none)'!r}")
    check = check or (lambda: None)
    if kind == "pdf":
        pages = joined_lines([plain_letters(p) for p in pdf_pages(data, check, max_pages)])
        return kind, [Section(text, page=i + 1) for i, text in enumerate(pages)]
    if kind == "docx":
        return kind, [Section(plain_letters(docx_markdown(data, check)))]
    text = plain_letters(text_of(data))
    if kind == "html":
        visible = html_text(text, check)
        if (target := html_redirect(text, visible)) is not None:
            raise Skip(f"a redirect page (to {target[:200]}), no text of its own")
        return kind, [Section(visible)]
    if kind in ("json", "jsonl"):
        return kind, _records(text, kind)
    return kind, [Section(text)]


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
