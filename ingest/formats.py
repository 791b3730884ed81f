"""Parsers of structured formats (PDF, HTML) whose work is bounded and cancellable.

A few kilobytes can ask for minutes of parsing: a PDF whose pages all point at one
highly compressed content stream of millions of text operators, HTML of millions of
tiny elements. So the caller's ``check`` (``ingest.types.Budget.check``: raises past the
time budget or once the client went away) runs before every page and every few hundred
operators or elements, and a PDF has a page cap. The only work ``check`` cannot interrupt
is pypdf's parse of one page's content stream.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from memory.errors import InvalidInput, OverlayError, TooLarge

Check = Callable[[], None]
_BLOCKS = frozenset(
    "address article aside blockquote body caption dd details div dl dt figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table td th title tr "
    "ul".split()
)
_PERMALINK = re.compile(r"^#")
_MARK = re.compile(r"^\s*[¶§#🔗]?\s*$")
EVERY = 256  # operators or elements between two checks (a check costs ~100 ns)
MAX_PAGES = 5000


def no_check() -> None:
    return None


def pdf_pages(data: bytes, check: Check = no_check, max_pages: int = MAX_PAGES) -> list[str]:
    """The text of each page of the PDF ``data``; ``check`` between pages and operators."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput("the PDF is encrypted")
        count = len(reader.pages)
        if count > max_pages:
            raise TooLarge(f"the PDF has {count} pages; the limit is {max_pages}")
        return without_furniture([_page_text(page, check) for page in reader.pages])
    except OverlayError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise InvalidInput(f"cannot read the PDF ({type(exc).__name__}: {exc})") from exc


_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"  # not "civil"
_PAGE_NUMBER = re.compile(
    rf"(?:page\s+)?(?:\d{{1,4}}|{_ROMAN})(?:\s*(?:/|of)\s*\d{{1,4}})?"
    r"|[-–—]\s*\d{1,4}\s*[-–—]",
    re.I,
)
RUNNING = 3  # a first or last line on at least this many pages (and 2 in 5) runs on every page


def without_furniture(pages: list[str]) -> list[str]:
    """``pages`` without their furniture: a running header or footer (among the first or last
    two lines of at least ``RUNNING`` pages and two in five, its numbers aside: "Shared
    MIME-info Database"; a short line ending in a page number by its first two words: "Chapter
    2: ASN.1 structure handling 3", "Chapter 3: Utilities 7") and a bare page number ("4",
    "iv", "Page 4 of 17"). Left in, it was glued into the first sentence of every page ("Shared
    MIME-info Database directory is added to …"). The first page keeps its first line: that is
    where a title is."""
    lines = [p.strip().split("\n") for p in pages]
    need = max(RUNNING, 0.4 * len(pages))
    for end in (0, -1):
        seen: Counter[str] = Counter()
        for ls in lines:
            seen.update({k for line in (ls[:2] if end == 0 else ls[-2:]) for k in _keys(line)})
        running = {k for k, n in seen.items() if n >= need}
        for i, ls in enumerate(lines):
            for _ in range(2):  # a running line and a page number, in either order
                if ls and not (i == 0 and end == 0) and _furniture(ls[end], running):
                    ls.pop(end)
    return ["\n".join(ls) for ls in lines]


def _furniture(line: str, running: set[str]) -> bool:
    return bool(running & _keys(line)) or _PAGE_NUMBER.fullmatch(line.strip()) is not None


def _keys(line: str) -> set[str]:
    words = re.sub(r"\d+", "#", line).lower().split()
    if not words:
        return set()
    keys = {" ".join(words)}
    if len(words) <= 10 and line.rstrip()[-1:].isdigit():
        keys.add("numbered: " + " ".join(words[:2]))
    return keys


def _page_text(page: Any, check: Check) -> str:
    check()
    seen = [0]

    def visit(*_: Any) -> None:  # pypdf calls it before each content-stream operator
        seen[0] += 1
        if seen[0] % EVERY == 0:
            check()

    return str(page.extract_text(visitor_operand_before=visit) or "")


_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_REFRESH = re.compile(r"""http-equiv\s*=\s*["']?refresh""", re.IGNORECASE)
_TARGET = re.compile(
    r"""content\s*=\s*["']?\s*\d*\s*;?\s*url\s*=\s*['"]?([^"'>\s]+)""", re.IGNORECASE
)
REDIRECT_WORDS = 40  # a page that sends its reader elsewhere and says no more than this


def html_redirect(html: str, text: str) -> str | None:
    """Where ``html`` sends its reader, when it is a redirect page (a ``<meta http-equiv=
    "refresh">`` naming a URL, and at most ``REDIRECT_WORDS`` words of ``text``, its visible
    text: "Redirecting to… write-documentation/linking.html"), else None. Documentation sites
    leave such pages where a chapter moved; their one sentence answered questions."""
    if len(text.split()) > REDIRECT_WORDS:
        return None
    for tag in _META.findall(html[: 1 << 16]):
        target = _TARGET.search(tag)
        if _REFRESH.search(tag) and target:
            return target.group(1)
    return None


def html_text(html: str, check: Check = no_check) -> str:
    """The visible text of ``html``: scripts, styles, templates, the head, navigation (``nav``,
    ``role="navigation"``: menus and breadcrumbs are no part of a page's content) and permalink
    marks (a heading's "¶" linking to itself, as Sphinx writes them: "Abstract¶") dropped. A
    ``<pre>`` block is a fenced code block ("```" lines around it), read as Markdown's is: a
    console session's commands without their prompt, apart from their output."""
    from bs4 import BeautifulSoup
    from bs4.element import CData, NavigableString

    check()
    soup = BeautifulSoup(html, "html.parser")
    hidden = [
        *soup(["script", "style", "noscript", "template", "head", "nav"]),
        *soup(role="navigation"),
        *soup("a", href=_PERMALINK, string=_MARK),
    ]
    for n, tag in enumerate(hidden):
        if n % EVERY == 0:
            check()
        if not tag.decomposed:
            tag.decompose()
    for n, pre in enumerate(soup("pre")):  # preformatted text is a fenced code block
        if n % EVERY == 0:
            check()
        if pre.find_parent("pre") is None:
            pre.insert(0, f"```{_language(pre)}\n")  # tagged: a bare fence is a closing one
            pre.append("\n```")
    pieces: list[str] = []
    block: Any = None
    for n, node in enumerate(soup.descendants):
        if n % EVERY == 0:
            check()
        if type(node) in (NavigableString, CData):  # as get_text: no comments, doctypes
            owner = next((p for p in node.parents if p.name in _BLOCKS), None)
            if owner is not block and pieces:
                pieces.append("\n\n")  # a new block: a heading is never glued to its text
            block = owner
            pieces.append(str(node))
        elif getattr(node, "name", None) == "br":
            pieces.append("\n")
    paragraphs = (
        "\n".join(" ".join(ln.split()) for ln in p.splitlines())
        for p in "".join(pieces).split("\n\n")
    )
    return "\n\n".join(p.strip() for p in paragraphs if p.strip())


_LANGUAGE = re.compile(r"(?:language|lang|highlight-source|highlight)-([\w+#.-]{1,30})$")


def _language(pre: Any) -> str:
    """The language a ``<pre>`` block's classes name ("language-console" on it or its
    ``<code>``), else "text"."""
    for tag in (pre, pre.find("code")):
        for name in (tag.get("class") or []) if tag is not None else []:
            if m := _LANGUAGE.match(name):
                return m.group(1)
    return "text"
