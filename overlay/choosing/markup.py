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
_OPEN = r"[ \t]*(```|~~~(?!~))"
_FENCED = re.compile(rf"^{_OPEN}[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_FENCE_LINE = re.compile(rf"^{_OPEN}[^\n]*$", re.MULTILINE)  # a chunk cut it from its pair
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


def _code(m: re.Match[str]) -> str:
    lines = [_PROMPT.sub("", line).strip() for line in m.group(2).splitlines()]
    code = " ".join(line for line in lines if line)
    return f"\n\n{code}\n\n" if code else "\n\n"


def plain(text: str) -> str:
    """``text`` with its Markdown/RST markup turned into what a reader reads (see above)."""
    if "```" in text or "~~~" in text:
        text = _FENCE_LINE.sub("", _FENCED.sub(_code, text))
    if "](" in text or "]:" in text:
        text = _LINK.sub(r"\1", _IMAGE.sub("", _LINK_DEF.sub("", text)))
    if ".." in text or "__ " in text or "::" in text or "|" in text:
        text = _RST_LINE.sub("", text)
        text = _LITERAL.sub(":", text)
    return text
