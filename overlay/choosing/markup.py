"""Markdown and reStructuredText markup as a reader sees it, before sentences are split.

A README or a how-to page answers "How do I install redis-py?" with a code block, and its
markup is no part of any sentence: a fence line ("```bash") glued onto the command gave the
answer "``` bash $ pip install redis ```"; an RST directive (".. code:: python"), a badge's
substitution (".. |ci| image:: https://…", ":target: …") or a link target ("__ https://…")
came back as sentences of their own. ``plain`` keeps every word a reader reads:

- a fenced code block becomes one paragraph of its lines, without the fences, the language
  tag or a shell prompt ("$ pip install redis" → "pip install redis"); a fence whose pair a
  chunk boundary cut off is dropped;
- RST directive, option, link-target and substitution-only lines are dropped (a directive's
  indented content stays: the code under ".. code:: python" is what it shows);
- RST's literal-block marker "::" ending a line is the colon it reads as;
- a Markdown link is its text ("[Usage](#usage)" → "Usage"); an image or badge
  ("[![CI](https://…/badge.svg)](https://…)") and a link definition ("[#456]: https://…") are
  dropped.

The stored and shown chunk text stays the document's own; this is only what is split.
"""

from __future__ import annotations

import re

# a fence: ``` with any info string, or exactly ~~~ (a longer run of tildes underlines an RST
# title: "Latest PyPI stable release" over "~~~~~~~~~~~~~~~~~~~~~~~~~~")
_FENCE = re.compile(r"[ \t]*(```|~~~(?!~))")
_PROMPT = re.compile(r"^[ \t]*[$%][ \t]+")
_RST_LINE = re.compile(
    r"^(?:[ \t]*\.\.[ \t]+(?:[\w|:-][^\n]*::|_[^\n]*:|\[[^\n]*\])[^\n]*"  # directive, target
    r"|[ \t]*\.\.[ \t]*"  # an empty comment
    r"|[ \t]*__[ \t]+\S+"  # an anonymous link target
    r"|[ \t]+:[\w-]+:(?:[ \t][^\n]*)?"  # an indented directive option (":target: https://…")
    r"|[ \t]*(?:\|[\w -]+\|[ \t]*)+)$",  # a line of substitutions only ("|python| |version|")
    re.MULTILINE,
)
_LITERAL = re.compile(r"[ \t]*::[ \t]*$", re.MULTILINE)
_IMAGE = re.compile(r"\[?!\[[^\]\n]*\]\([^)\n]*\)(?:\]\([^)\n]*\))?")  # a badge: [![CI](…)](…)
_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^)\s]+)(?:\s+\"[^\"\n]*\")?\)")  # [text](url "title")
_LINK_DEF = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]+\S+.*$", re.MULTILINE)  # [#456]: https://…


def _fenced(text: str) -> str:
    """Each fenced block as one paragraph of its code lines (one pass over the lines: a fence
    never closed does not make it quadratic); a fence line itself is dropped."""
    out: list[str] = []
    code: list[str] | None = None  # the open block's lines
    fence = ""
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if code is None and m:
            code, fence = [], m.group(1)
        elif code is not None and m and m.group(1) == fence and not line[m.end() :].strip():
            out.append("\n" + " ".join(code) + "\n")
            code = None
        elif code is not None:
            if stripped := _PROMPT.sub("", line).strip():
                code.append(stripped)
        else:
            out.append(line)
    if code is not None:  # a chunk cut the block from its closing fence
        out.append("\n" + " ".join(code) + "\n")
    return "\n".join(out)


def plain(text: str) -> str:
    """``text`` with its Markdown/RST markup turned into what a reader reads (see above)."""
    if "```" in text or "~~~" in text:
        text = _fenced(text)
    if "](" in text or "]:" in text:
        text = _LINK.sub(r"\1", _IMAGE.sub("", _LINK_DEF.sub("", text)))
    if ".." in text or "__ " in text or "::" in text or "|" in text:
        text = _RST_LINE.sub("", text)
        text = _LITERAL.sub(":", text)
    return text
