"""Typesetting undone: the characters a typeset document (PDF, Word, a web page) holds where its
reader sees plain letters, so that search terms, sentence ends and answer spans match what a
user types.

- ligatures ("ﬁ", "ﬂ", "ﬃ": a PDF set in TeX extracts "conﬁguration") become their letters;
- a soft hyphen (U+00AD, a break the typesetter may use), a zero-width space (U+200B), a word
  joiner (U+2060) and a stray byte-order mark are dropped: each splits a word in two;
- in a PDF, a word broken across lines by a hyphen ("manip-⏎ulation") is joined again, unless
  the document writes the hyphenated word elsewhere ("well-⏎known" where "well-known" appears)
  or the line goes on with a capital after a lower-case letter or a digit ("Jean-⏎Paul",
  "ISO-⏎8859"); a capitals' word broken so is joined too ("OP-⏎TIONAL").

Zero-width joiners and non-joiners stay (they shape Persian, Indic and emoji text), as do
non-breaking spaces (every splitter here reads them as spaces)."""

from __future__ import annotations

import re

_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")
# a lower-case word part, a hyphen at the end of its line, a lower-case part opening the next;
# or a capitals' word broken so ("OP-⏎TIONAL", "SE-⏎QUENCE")
_BROKEN = re.compile(
    r"\b([^\W\d_]*[a-z])-[ \t]*\n[ \t]*([a-z][^\W\d_]*)"
    r"|\b([A-Z]{2,})-[ \t]*\n[ \t]*([A-Z]{2,})\b"
)


def plain_letters(text: str) -> str:
    """``text`` with ligatures spelled out and invisible word-splitting characters dropped."""
    return _INVISIBLE.sub("", text.translate(_LIGATURES))


def joined_lines(pages: list[str]) -> list[str]:
    """A PDF's ``pages`` with words hyphenated across line ends joined, unless the document
    itself writes them with a hyphen, on any of its pages."""
    hyphenated = {
        m.group(0).lower() for page in pages for m in re.finditer(r"[^\W\d_]+-[^\W\d_]+", page)
    }

    def join(m: re.Match[str]) -> str:
        head, tail = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        if f"{head}-{tail}".lower() in hyphenated:
            return f"{head}-{tail}"
        return head + tail

    return [_BROKEN.sub(join, page) for page in pages]
