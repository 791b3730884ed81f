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
- a Markdown link is its text ("[Usage](#usage)", "[Usage][ref]" → "Usage"); an image or badge
  ("[![CI](https://…/badge.svg)](https://…)") and a link definition ("[#456]: https://…") are
  dropped;
- a role of MyST or RST is its text ("{ref}`editable mode <editable-installs>`" → "editable
  mode", ":file:`pip.conf`" → "pip.conf"); a MyST directive that holds prose ("```{note}",
  "```{warning}", "```{tab} Windows", "```{versionadded} 22.2") is its prose, read as text, not
  as a code block, and a table of contents ("```{toctree}") is none;
- emphasis is its words ("**NOT**" → "NOT", "_all_" → "all"; "snake_case" and "*.txt" stay).

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
_LINK = re.compile(  # [text](url "title") or [text][ref], never after a word: "a[0][1]" indexes
    r"(?<![\w\]])\[([^\]\n]+)\](?:\((?:[^)\s]+)(?:\s+\"[^\"\n]*\")?\)|\[[^\]\n]*\])"
)
_LINK_DEF = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]+\S+.*$", re.MULTILINE)  # [#456]: https://…
# a role: {ref}`text <target>`, :doc:`text`, {file}`C:\pip\pip.ini`
_ROLE = re.compile(  # its text may wrap onto the next line, never past a paragraph
    r"(?:\{[\w:.-]+\}|(?<![\w`]):[\w:.-]+:)`((?:[^`\n]|\n(?![ \t]*\n)){0,300}?)"
    r"(?:\s*<[^`<>\n]*>)?`"
)
_DIRECTIVE = re.compile(r"[ \t]*(`{3,}|~{3,})\{([\w-]+)\}[ \t]*(.*)$")  # ```{note} …
# MyST directives that hold prose (read as text) and those that hold nothing to read
PROSE = frozenset(
    "note warning caution attention danger error hint important tip seealso admonition "
    "versionadded versionchanged deprecated tab tab-item dropdown topic sidebar margin".split()
)
TITLED = frozenset("tab tab-item dropdown admonition topic sidebar".split())  # arg: a title
NOTHING = frozenset("toctree contents include literalinclude image figure".split())
_OPTION = re.compile(r"[ \t]*:[\w-]+:(?:[ \t].*)?$")  # a directive's option line
_EMPHASIS = re.compile(r"(?<![\w*`])(\*\*|\*|__|_)(?=[^\s*_])([^\n`]*?[^\s*_\\])\1(?![\w*`])")


def _fenced(text: str) -> str:
    """Each fenced block as one paragraph of its code lines (one pass over the lines: a fence
    never closed does not make it quadratic); a fence line itself is dropped. A MyST directive
    that holds prose is read as text, one that holds nothing to read is dropped. A text that
    a chunk boundary cut inside a block opens with its code: its first fence is bare and the
    next one names a language (an opening fence does, as HTML's ``<pre>`` blocks are written)."""
    out: list[str] = []
    code, fence = _cut_open(text)  # the open block's lines, and its fence
    prose: list[str] = []  # the fences of the open directives that hold prose
    skip: str | None = None  # the fence that closes a directive holding nothing to read
    options = False  # the lines just after a directive's fence: its options
    for line in text.split("\n"):
        if skip is not None:
            skip = None if line.strip() == skip else skip
            continue
        d = _DIRECTIVE.match(line)
        if d and code is not None:  # "```" before it closed a block a chunk boundary cut
            if code:
                out.append(_code(code))
            code = None
        if d and d.group(2) in PROSE:
            prose.append(d.group(1))
            out += ["", d.group(3) + ":" if d.group(2) in TITLED and d.group(3) else ""]
            options = True
            continue
        if d and d.group(2) in NOTHING:
            skip = d.group(1)
            continue
        if options and _OPTION.match(line):
            continue
        options = False
        if code is None and prose and line.strip() == prose[-1]:
            prose.pop()  # a prose directive's closing fence
            continue
        m = _FENCE.match(line)
        if code is None and m:
            code, fence = [], m.group(1)
        elif code is not None and m and m.group(1) == fence and not line[m.end() :].strip():
            out.append(_code(code))
            code = None
        elif code is not None:
            code.append(line)
        else:
            out.append(_EMPHASIS.sub(r"\2", line))
    if code is not None:  # a chunk cut the block from its closing fence
        out.append(_code(code))
    return "\n".join(out)


_FENCE_LINE = re.compile(r"^[ \t]*(```|~~~(?!~))[ \t]*(\S*).*$", re.MULTILINE)


def _cut_open(text: str) -> tuple[list[str] | None, str]:
    """``([], fence)`` where ``text`` opens inside a fenced block (see ``_fenced``), else
    ``(None, "")``."""
    fences = _FENCE_LINE.finditer(text)
    first, second = next(fences, None), next(fences, None)
    if first and second and not first.group(2) and second.group(2):
        if first.group(1) == second.group(1) and not second.group(2).startswith("{"):
            return [], first.group(1)
    return None, ""


def _code(lines: list[str]) -> str:
    """A code block's lines as paragraphs: the whole block as one, or, in a console session
    (some line opens with a shell prompt, "$ cargo build"), each command without its prompt
    as one (a line ending in "\\" goes on) and the output after it as another, so that
    "cargo build --release" is not read as one sentence with "Compiling hello_world v0.1.0
    (file:///…)"."""
    if not any(_PROMPT.match(line) for line in lines):
        return "\n" + " ".join(s for line in lines if (s := line.strip())) + "\n"
    parts: list[tuple[bool, list[str]]] = []  # (a command?, its lines)
    goes_on = False  # the last command's line ended in "\\"
    for line in lines:
        prompt = _PROMPT.match(line)
        if not (stripped := line[prompt.end() if prompt else 0 :].strip()):
            continue
        went_on, goes_on = goes_on, stripped.endswith("\\")
        stripped = stripped.removesuffix("\\").rstrip()
        if went_on or (parts and not parts[-1][0] and not prompt):
            parts[-1][1].append(stripped)
        else:
            parts.append((prompt is not None, [stripped]))
        goes_on = goes_on and parts[-1][0]
    return "".join("\n" + " ".join(part) + "\n" for _, part in parts)


def plain(text: str) -> str:
    """``text`` with its Markdown/RST markup turned into what a reader reads (see above)."""
    if "```" in text or "~~~" in text:
        text = _fenced(text)  # emphasis too, outside code: "def __init__" keeps its name
    elif "*" in text or "_" in text:
        text = _EMPHASIS.sub(r"\2", text)
    if "`" in text:
        text = _ROLE.sub(r"\1", text)
    if "](" in text or "]:" in text or "][" in text:
        text = _LINK.sub(r"\1", _IMAGE.sub("", _LINK_DEF.sub("", text)))
    if ".." in text or "__ " in text or "::" in text or "|" in text:
        text = _RST_LINE.sub("", text)
        text = _LITERAL.sub(":", text)
    return text
