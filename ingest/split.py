"""Splitting sections into chunks sized in embedder tokens (langchain-text-splitters).

Markdown is split at its structure (headings, then paragraphs, lines, words)
and each chunk records its heading path; everything else is split recursively
at paragraphs, lines, sentences and words. Lengths are counted with the
embedder's own tokenizer, and a final check re-splits anything over the
embedder's limit, so no chunk is silently truncated at embedding time. No
LangChain type leaves this module.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.headings import BLANK, RULE, as_heading, lone_heading
from ingest.loaders import Section
from memory.errors import InvalidInput

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
MARKDOWN = frozenset({"markdown", "docx"})  # kinds split at their Markdown headings
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
_SPECIAL_TOKENS = 2  # [CLS] and [SEP] count against the embedder's maximum
# A run without whitespace (one letter repeated, base64, minified code) that does not fit a
# chunk gives the recursive splitter nothing to split at but single characters, each one then
# counted by the tokenizer three times: minutes per MB. Such runs, and any run this long, are
# cut in windows of at most this many characters instead.
RUN_CHARS = 1000


@dataclass
class Chunk:
    """A piece of a source, ready to embed; ``start``/``end`` are char offsets in its section."""

    id: str
    text: str
    source: str
    index: int
    start: int
    end: int
    tokens: int
    page: int | None = None
    headings: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    title: str = ""  # the document's own name, where its first line is one (``first_line_title``)

    def indexed(self) -> str:
        """What the sparse index holds for the chunk: a contextual header (the document's file
        name, its own title, the chunk's heading path) and its text, so a question that names
        the document ("Under the Apache License, …", "In the Mozilla Public License, …" of
        ``MPL-2.0.txt``) finds its chunks. The stored and shown text stays the chunk's own."""
        return self._with_header(self.title)

    def embedded(self) -> str:
        """What is embedded for the chunk: the same header without the document's own title.
        The answer gate reads the embedding similarity and was fitted without titles; a title
        in every chunk's vector moved it on documents it was never fitted with (measured on
        ``examples/docs``), so the title's words are matched by the sparse index only."""
        return self._with_header("")

    def _with_header(self, title: str) -> str:
        name = title_of(self.source)
        if title and title.lower() != name.lower():
            name = f"{name} · {title}"
        return f"{name}{' › ' + self.headings if self.headings else ''}\n{self.text}"

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "kind": "chunk",
            "chunk": self.index,
            "start": self.start,
            "end": self.end,
            "tokens": self.tokens,
        }
        if self.page is not None:
            out["page"] = self.page
        if self.headings:
            out["headings"] = self.headings
        out.update(self.meta)
        return out


def title_of(source: str) -> str:
    """A readable document name from a source path or URL: its file name without the
    extension, separators as spaces (``/docs/apache-license_2.0.txt`` → ``apache license 2.0``)."""
    name = source.rstrip("/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name[1:] and not name[-1].isdigit() else name
    return " ".join(stem.replace("_", " ").replace("-", " ").split())


def first_line_title(text: str) -> str:
    """The document's own title where its first line is one: a short line (at most 12 words)
    with letters that is not a sentence or a clause (no end mark, comma or colon after it), e.g.
    "Mozilla Public License Version 2.0" or "GNU GENERAL PUBLIC LICENSE". Rules and heading marks
    around it are dropped. Empty where the document starts with prose."""
    line = next((ln for ln in text.splitlines() if ln.strip(RULE)), "")
    line = " ".join(line.strip(RULE).split())
    if not 0 < len(line.split()) <= 12 or line[-1] in ".!?,;:" or re.search(r"[.!?]\s", line):
        return ""
    return line if re.search(r"[^\W\d_]", line) else ""


def chunk_id(source: str, section: int, start: int, text: str) -> str:
    """Deterministic id: the same text at the same place of the same source."""
    h = hashlib.sha256(f"{source}\x00{section}\x00{start}\x00{text}".encode())
    return h.hexdigest()[:32]


class Splitter:
    """Token-sized splitter bound to one embedder's tokenizer and limit."""

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        max_tokens: int,
        chunk_size: int,
        chunk_overlap: int,
    ) -> None:
        if chunk_overlap >= chunk_size:
            raise InvalidInput(
                f"chunk overlap {chunk_overlap} must be below chunk size {chunk_size}"
            )
        self.count = count_tokens
        self.limit = max(8, max_tokens - _SPECIAL_TOKENS)
        self.size = min(chunk_size, self.limit)
        self.overlap = min(chunk_overlap, self.size // 2)
        self._cache: dict[str, Any] = {}
        # a token is at least one character, so a shorter run always fits a chunk
        self._run = re.compile(rf"\S{{{min(self.size, RUN_CHARS)},}}")

    def _lc(self, kind: str) -> Any:
        if kind not in self._cache:
            from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

            md = kind in MARKDOWN
            seps = (
                RecursiveCharacterTextSplitter.get_separators_for_language(Language.MARKDOWN)
                if md
                else ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]
            )
            self._cache[kind] = RecursiveCharacterTextSplitter(
                separators=seps,
                chunk_size=self.size,
                chunk_overlap=self.overlap,
                length_function=self.count,
                keep_separator=True if md else "end",
                is_separator_regex=md,
            )
        return self._cache[kind]

    def split(
        self,
        source: str,
        kind: str,
        sections: Sequence[Section],
        check: Callable[[], None] | None = None,
    ) -> list[Chunk]:
        """All chunks of a source's sections, numbered in order; ``check()`` runs between
        pieces (it raises to stop a run past its time budget)."""
        chunks: list[Chunk] = []
        first = next((s.text for s in sections if s.text.strip()), "")
        title = first_line_title(first) if kind not in MARKDOWN else ""  # Markdown: headings
        for s_idx, section in enumerate(sections):
            if not section.text.strip():
                continue
            heads = _Headings(section.text if kind in MARKDOWN else "")
            heading = ""  # plain text: the lone heading over the pieces that follow
            pieces = list(self._pieces(section.text, kind))
            for i, (text, start) in enumerate(pieces):
                if check is not None:
                    check()
                if i + 1 < len(pieces) and lone_heading(text):
                    heading = as_heading(text, title)
                    continue  # a heading with nothing under it in its chunk: a header below
                blocks = BLANK.split(text)  # a heading inside: the one in force from there
                under = heading
                if len(blocks) > 1 and lone_heading(blocks[0]):
                    heading = as_heading(blocks[0], title)
                    under = ""  # it opens the chunk: its text says it, a header would twice
                for block in blocks[1:]:
                    if lone_heading(block):
                        heading = as_heading(block, title)
                chunks.append(
                    Chunk(
                        id=chunk_id(source, s_idx, start, text),
                        text=text,
                        source=source,
                        index=len(chunks),
                        start=start,
                        end=start + len(text),
                        tokens=self.count(text),
                        page=section.page,
                        headings=heads.path_at(start) if kind in MARKDOWN else under,
                        meta=dict(section.meta),
                        title=title,
                    )
                )
        return chunks

    def _pieces(self, text: str, kind: str) -> Iterator[tuple[str, int]]:
        """``(chunk text, char offset)`` in order: whitespace-free runs that do not fit a
        chunk in windows, the text between them through the recursive splitter."""
        pos = 0
        for run in self._run.finditer(text):
            if run.end() - run.start() < RUN_CHARS and self.count(run.group()) < self.size:
                continue  # it fits a chunk: the recursive splitter keeps it whole
            yield from self._split(text[pos : run.start()], kind, pos)
            yield from self._windows(run.group(), run.start())
            pos = run.end()
        yield from self._split(text[pos:], kind, pos)

    def _split(self, text: str, kind: str, offset: int) -> Iterator[tuple[str, int]]:
        if not text.strip():
            return
        cursor = -1
        for piece in self._lc(kind).split_text(text):
            for part in self._fit(piece):
                if not part.strip():
                    continue
                found = text.find(part, cursor + 1)
                start = found if found >= 0 else max(cursor, 0)
                yield part, offset + start
                cursor = start

    def _windows(self, run: str, offset: int) -> Iterator[tuple[str, int]]:
        for i in range(0, len(run), RUN_CHARS):
            start = offset + i
            for part in self._fit(run[i : i + RUN_CHARS]):
                yield part, start
                start += len(part)

    def _fit(self, text: str) -> list[str]:
        """``text`` cut in halves (at a space when possible) until each fits the limit."""
        if self.count(text) <= self.limit or len(text) < 2:
            return [text]
        mid = len(text) // 2
        space = text.rfind(" ", 0, mid)
        cut = space + 1 if space > len(text) // 4 else mid
        return self._fit(text[:cut]) + self._fit(text[cut:])


class _Headings:
    """The Markdown headings of a text (outside code fences) and the path in force at an
    offset; both O(log n) per question, so many headings never make splitting quadratic."""

    def __init__(self, text: str) -> None:
        fences = [m.start() for m in _FENCE.finditer(text)] if text else []
        self.offsets: list[int] = []
        self.paths: list[str] = []
        stack: list[tuple[int, str]] = []
        for m in _HEADING.finditer(text):
            if bisect.bisect_left(fences, m.start()) % 2 == 1:
                continue  # inside a code fence
            level, title = len(m.group(1)), m.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            self.offsets.append(m.start())
            self.paths.append(" > ".join(t for _, t in stack[-6:]))

    def path_at(self, offset: int) -> str:
        """Heading path (``A > B > C``) in force at ``offset``."""
        i = bisect.bisect_right(self.offsets, offset)
        return self.paths[i - 1] if i else ""
