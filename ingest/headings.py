"""Plain-text headings: a title or heading the splitter would leave alone in a chunk, and the
heading path it gives the chunks under it (``ingest.split``; Markdown has its own, from its
"#" marks)."""

from __future__ import annotations

import re

RULE = " \t#*=_~-"  # what frames a title line: rules, heading marks
_HEADING_WORDS = 20
_HEADING_CHARS = 160
_HEADING_LINE = re.compile(r"(?:\d{1,3}(?:\.\d{1,3})*\.?\s+)?[A-Z]")  # "2.2 Sharing …", "Scope"
_CODE = re.compile(r"[=<>{}$`|\\]|\(\)|\w_\w")  # "pip install x" opens in lower case
_END_MARK = re.compile(r"[.!?:;,][\"'’”)\]]*$")


BLANK = re.compile(r"\n[ \t]*\n")


def as_heading(text: str, title: str) -> str:
    """A lone heading as the heading path of the chunks under it ("Title\n\n2.2 Sharing" →
    "Title > 2.2 Sharing"), less the document's own title, which is in every chunk's header
    already (``Chunk.title``)."""
    parts = (" ".join(block.strip(RULE).split()) for block in BLANK.split(text.strip()))
    return " > ".join(p for p in parts if p and p.lower() != title.lower())


def lone_heading(part: str) -> bool:
    """Whether a chunk-to-be is only a title or heading: one or two short lines of words with
    no end mark ("Crystal structure of a nucleosome core particle …", "## Installation",
    "2.2 Sharing Personal Information"). The recursive splitter cuts at blank lines first, so
    a heading over a paragraph too long to share a chunk with it was a chunk of its own: one
    that names what the text says but says none of it, ranked first for any question in its
    words ("Crystal structure of a nucleosome core particle containing the variant histone
    H2A.Z" for "What is the resolution of the crystal structure of the H2A.Z nucleosome?").
    It is the header of the chunks under it instead (Markdown: their heading path already)."""
    lines = [ln.strip(RULE) for ln in part.strip().splitlines() if ln.strip(RULE)]
    return (
        0 < len(lines) <= 2
        and all(_HEADING_LINE.match(ln) and not _END_MARK.search(ln) for ln in lines)
        and not any(_CODE.search(ln) for ln in lines)  # an "=====" underline is no code
        and len(part.split()) <= _HEADING_WORDS
        and len(part.strip()) <= _HEADING_CHARS
    )
