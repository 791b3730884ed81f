"""Word documents (.docx) as Markdown: headings, paragraphs, list items and table rows in the
order the body holds them, with the standard library alone (a .docx is a zip of XML).

Titles and headings ("Title", "Heading 1" … or an outline level) become Markdown headings, so
the chunks keep their heading path as a Markdown file's do; a list paragraph is a "- " item;
a table row is its cells joined by " | ". What is not the body's text is not read: headers and
footers, comments, footnotes, deleted text, field codes.

Bad input fails that one file with a clear reason: not a zip, no ``word/document.xml``, a
corrupt archive or XML, a DTD (entity declarations are never expanded), or a body over
``MAX_XML`` bytes once decompressed (checked while decompressing, so a zip bomb is refused
after reading at most that much). ``check`` (the run's budget) runs between the pieces fed to
the XML parser and every ``EVERY`` blocks.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from xml.etree import ElementTree as ET

from ingest.formats import EVERY, Check, no_check
from memory.errors import InvalidInput, TooLarge

MAX_XML = 64 * 2**20  # the body's XML, decompressed
_FEED = 2**20
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEADING_STYLE = re.compile(r"(?i)heading\s*([1-9])$")


def docx_markdown(data: bytes, check: Check = no_check) -> str:
    """The body of the .docx file ``data`` as Markdown text."""
    root = _parse(_body_xml(data, check), check)
    body = root.find(f"{_W}body")
    if body is None:
        raise InvalidInput("not a Word document: its XML has no body")
    blocks: list[str] = []
    for n, el in enumerate(_blocks(body)):
        if n % EVERY == 0:
            check()
        text = _table(el) if el.tag == f"{_W}tbl" else _paragraph(el)
        if text:
            blocks.append(text)
    return "\n\n".join(blocks)


def _body_xml(data: bytes, check: Check) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InvalidInput("not a readable .docx file: it is not a zip archive") from exc
    with archive:
        try:
            info = archive.getinfo("word/document.xml")
        except KeyError:
            raise InvalidInput("not a Word document: it has no word/document.xml") from None
        if info.file_size > MAX_XML:
            raise TooLarge(_too_large())
        out = bytearray()
        try:
            with archive.open(info) as fh:
                while piece := fh.read(_FEED):
                    out += piece
                    if len(out) > MAX_XML:  # the size it declared was a lie: a zip bomb
                        raise TooLarge(_too_large())
                    check()
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise InvalidInput("a corrupt .docx file: its text cannot be decompressed") from exc
    return bytes(out)


def _too_large() -> str:
    return f"a .docx body over {MAX_XML // 2**20} MB of XML once decompressed"


def _parse(xml: bytes, check: Check) -> ET.Element:
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise InvalidInput("a .docx file with a DTD: its entity declarations are not read")
    parser = ET.XMLParser()
    try:
        for at in range(0, len(xml), _FEED):
            parser.feed(xml[at : at + _FEED])
            check()
        root = parser.close()
    except ET.ParseError as exc:
        raise InvalidInput(f"a corrupt .docx file: its XML does not parse ({exc})") from exc
    return root


def _blocks(parent: ET.Element) -> list[ET.Element]:
    """The paragraphs and tables of ``parent`` in order, through content controls."""
    out: list[ET.Element] = []
    for el in parent:
        if el.tag in (f"{_W}p", f"{_W}tbl"):
            out.append(el)
        elif el.tag == f"{_W}sdt":
            content = el.find(f"{_W}sdtContent")
            if content is not None:
                out += _blocks(content)
    return out


def _text(p: ET.Element) -> str:
    parts = []
    for el in p.iter():
        if el.tag == f"{_W}t" and el.text:
            parts.append(el.text)
        elif el.tag in (f"{_W}tab", f"{_W}br", f"{_W}cr"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def _paragraph(p: ET.Element) -> str:
    text = _text(p)
    if not text:
        return ""
    level = _heading_level(p)
    if level:
        return f"{'#' * level} {text}"
    if p.find(f"{_W}pPr/{_W}numPr") is not None:
        return f"- {text}"
    return text


def _heading_level(p: ET.Element) -> int:
    """The Markdown level of a title (1) or heading paragraph (Heading N: N + 1, by its style
    or its outline level, at most 6); 0 for any other paragraph."""
    style = p.find(f"{_W}pPr/{_W}pStyle")
    name = style.get(f"{_W}val", "") if style is not None else ""
    if name.lower() == "title":
        return 1
    match = _HEADING_STYLE.search(name)
    if match:
        return min(6, int(match.group(1)) + 1)
    outline = p.find(f"{_W}pPr/{_W}outlineLvl")
    if outline is not None and (value := outline.get(f"{_W}val", "")).isdigit():
        return min(6, int(value) + 2) if int(value) < 9 else 0
    return 0


def _table(tbl: ET.Element) -> str:
    rows = []
    for tr in tbl.findall(f"{_W}tr"):
        cells = [
            " ".join(t for p in tc.iter(f"{_W}p") if (t := _text(p)))
            for tc in tr.findall(f"{_W}tc")
        ]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)
