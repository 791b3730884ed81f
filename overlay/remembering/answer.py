"""Answers from session memory, before the documents are asked: a statement is acknowledged
with what was kept, a question whose answer the session holds is answered from the remembered
fact or turn, cited as memory with its speaker and date.

- a statement (no question mark, no question word first): "Noted: your name is Alex; you work
  in the Oslo office." — the facts its turn stated (kind ``noted``);
- a question a remembered fact answers (the question names the fact's key, and no speaker of
  the session: a user's facts answer questions about the user): the fact's value;
- a question whose best remembered turn scores at least ``floor`` in the lookup: the turns
  are re-ranked by the base model (``order``: ``remembering.step.reranked``), then the reader
  adapter reads the best ``read_turns`` turns (``Speaker: words``) and answers with the span
  it copies, in the words of the turn that holds it — the one turn cited. A question that names
  a speaker of the session is answered only from that speaker's own words: "What did John
  adopt?" is not answered from James's "I adopted a pup" (LoCoMo's adversarial questions swap
  the speaker). No span found in a turn: the best turn's sentence sharing most words with the
  question.
- a question whose answer is a list ("Which countries has James visited?", ``_LIST``): the
  reader reads the other turns once more (``LIST_READS``) and a second item it copies from
  another turn joins the answer, both turns cited;
- an answer that is the wrong kind of thing for the question (``answering.asked.fits``: "How
  many pets …?" answered "Max and Daisy") is no answer;
- "when did …": a span that is a date ("in 2021") as it is; else the date the cited turn names
  ("yesterday" resolved against the turn's date, ``Turn.when``), else the date it was said.
Otherwise None: the document path answers. Without a reader (``read=None``) the best turn's
own words answer (no model call).

Fitted on LoCoMo conversations 47-49 (conversation 50 held out; answer token F1 over categories
1-4, adversarial questions abstained): the floor 0.8 gave 0.293 / 0.55 (held out 0.289 / 0.46),
0.9 gave 0.287 / 0.59 (0.285 / 0.52), 1.0 gave 0.255 / 0.72; the speaker rule took adversarial
abstention at 0.9 from 0.11 to 0.59 for 0.013 F1. Reading 2, 3 or 5 turns on a third of 47-49:
F1 0.303, 0.305, 0.289. The whole best turn as the answer (before): F1 0.116, abstained 0.40.
Loosely copied spans found in the turn (``near_span``) and "last Friday" named with its weekday
moved 47-49 from 0.290 to 0.297 (held out 0.288 → 0.290, replayed over the same lookups);
with them, the floor 0.85 gave 0.303 / 0.58 (held out 0.293 / 0.48), 0.9 0.297 / 0.59. The
second item of a list moved 47-49 from 0.297 to 0.301 (multi-hop 0.128 → 0.139; held out 0.294
→ 0.298, multi-hop 0.119 → 0.141); a third (two more reads) gave 0.300; refusing a second item
that is a speaker's name took 47-49 from 0.3007 to 0.3013 (held out unchanged); refusing one made
only of the question's words gave 0.300 (held out 0.296). The kind check turned
12 wrong answers of the four conversations into no answer (F1 unchanged). Re-ranking the best
10 turns by query likelihood (weight 0.1; 0.2 gave 0.304) moved 47-49 from 0.301 to 0.308
(abstained 0.59, unchanged) and, measured once afterwards, held out 50 from 0.298 to 0.325.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from memory.sessions.extract import Fact
from memory.sessions.when import day_label, named_spans
from memory.types import Hit
from overlay.answering.answers import Draft
from overlay.answering.asked import fits
from overlay.answering.spans import find_span, near_span, normalize
from overlay.choosing.fusion import Choice, Scored
from overlay.choosing.views import split_sentences, terms

_QUESTION = re.compile(
    r"^\s*(?:who|whom|whose|what|when|where|which|why|how|is|are|am|was|were|do|does|did|"
    r"can|could|will|would|should|shall|has|have|had|may|might)\b",
    re.IGNORECASE,
)
# "Which countries has James visited?", "What kind of classes …": the answer is a list
_LIST = re.compile(
    r"^\s*(?:what|which)\s+(?:(?:kinds?|types?|sorts?)\s+of\s+)?(?:[\w-]+\s+){0,2}?"
    r"[\w-]+[^s'\W]s\s+(?:has|have|had|did|does|do|are|were|is|was)\b|"
    r"^\s*what\s+are\s+the\s+names\b",
    re.IGNORECASE,
)
LIST_READS = 1  # more turns read for a list (47-49: one more 0.301, two 0.300, none 0.297)
_WHEN = re.compile(
    r"^\s*(?:when|(?:what|which) (?:day|date|time|year|month)|how long ago)\b", re.IGNORECASE
)


Reader = Callable[[str, str], str]  # (question, passage) → the words the reader copied
Order = Callable[[list[Hit]], list[Hit]]  # remembered turns → the turns to read, best first


@dataclass
class Remembered:
    """A turn answered from memory: the draft and the choice its citations come from."""

    draft: Draft
    choice: Choice


def is_statement(text: str) -> bool:
    """True for a message that tells rather than asks."""
    return "?" not in text and not _QUESTION.match(text)


def _you(text: str) -> str:
    """A fact's sentence said back: "my name is Alex" → "your name is Alex"."""
    swaps = {"my": "your", "i": "you", "i'm": "you're", "am": "are", "me": "you", "mine": "yours"}
    return " ".join(swaps.get(w.lower(), w) for w in text.split())


def _cited(hit: Hit, text: str, kind: str, more: Sequence[Hit] = ()) -> Remembered:
    """``text`` answered from ``hit`` (and the turns in ``more`` it also draws on)."""
    scored = []
    for i, h in enumerate([hit, *more]):
        h.metadata["cite_kind"] = "memory"
        scored.append(Scored(h, i, 1.0, 0.0, 1.0, h.score))
    cited = list(range(1, len(scored) + 1))
    return Remembered(Draft(text, cited, len(scored), kind), Choice(scored, list(scored), 0.0))


def acknowledge(text: str, facts: Sequence[Fact], hit: Hit) -> Remembered:
    """A "Noted: …" reply with the facts the statement gave (or just "Noted.")."""
    kept = "; ".join(_you(f.text).rstrip(".") for f in facts)
    return _cited(hit, f"Noted: {kept}." if kept else "Noted.", "noted")


def _when(hit: Hit, span: str = "") -> str:
    """The date ``hit`` names (the one in ``span`` first), else the date it was said."""
    named = hit.metadata.get("when") or []
    said = normalize(span)
    for w in named:
        if said and normalize(str(w.get("text", ""))) in said:
            return str(w["label"])
    if named:
        return str(named[0]["label"])
    return day_label(datetime.fromtimestamp(float(hit.metadata["ts"]), UTC).date())


def _speaker(h: Hit) -> str:
    return str(h.metadata.get("speaker") or "")


def spoken(turn: Hit) -> str:
    """A remembered turn as the model reads it: ``Speaker: words`` (its words alone when no
    speaker is known)."""
    return f"{_speaker(turn)}: {turn.text.strip()}" if _speaker(turn) else turn.text.strip()


def passage(turns: Sequence[Hit]) -> str:
    """The turns as the reader reads them: ``spoken`` each, in lookup order."""
    return " ".join(spoken(h) for h in turns)


def locate(span: str, turns: Sequence[Hit]) -> tuple[Hit, str] | None:
    """The first of ``turns`` whose words hold ``span`` (``find_span``: one sentence, after
    normalisation) and the span in that turn's own words; a span that is a turn's speaker
    ("Who …?" → "Jolene") is found in that turn; else the turn with the run of words closest to
    the span (``near_span``: the reader copied loosely). None where no turn holds it."""
    said = [(h, split_sentences(h.text)) for h in turns]
    for h, sentences in said:
        got = find_span(span, sentences)
        if got is not None:
            return h, got.text
    want = normalize(span)
    for h in turns:
        if want and normalize(_speaker(h)) == want:
            return h, _speaker(h)
    near = [(got, h) for h, sentences in said if (got := near_span(span, sentences))]
    best = max(near, key=lambda g: g[0].match, default=None)  # the first of the closest
    return (best[1], best[0].text) if best else None


def named_speakers(question: str, turns: Sequence[Hit]) -> set[str]:
    """The speakers of ``turns`` that ``question`` names."""
    low = question.lower()
    return {s for s in map(_speaker, turns) if s and re.search(rf"\b{re.escape(s.lower())}\b", low)}


def from_memory(
    question: str, hits: Sequence[Hit], read: Reader | None = None, *,
    floor: float = 0.9, read_turns: int = 3, order: Order | None = None,
) -> Remembered | None:  # fmt: skip
    """The answer the remembered ``hits`` (best first) give ``question``, or None (see the
    module docstring). ``read``: the reader adapter over a passage of turns; ``order``: the
    turns to read instead, best first, once the best turn has passed the floor (the base
    model's re-ranking, ``remembering.step.reranked``)."""
    turns = [h for h in hits if h.kind == "turn" and h.metadata.get("ts") is not None]
    named = named_speakers(question, turns)
    for h in hits if not named else ():  # a user's facts answer questions about the user
        if h.kind == "fact" and h.metadata.get("cue") and h.metadata.get("scope") != "taught":
            return _cited(h, str(h.metadata.get("value") or h.text), "memory")
    if not turns or turns[0].score < floor:
        return None
    if order is not None and read is not None:
        turns = order(turns) or turns
    best, text, found = turns[0], turns[0].text, None
    if read is not None:
        shown = turns[:read_turns]
        found = locate(read(question, passage(shown)), shown)
        if found is not None:
            best, text = found
        else:  # the reader's words are in no turn: the best turn's sentence the question names
            asked = set(terms(question))
            text = max(split_sentences(best.text) or [best.text],
                       key=lambda sent: len(asked & set(terms(sent))))  # fmt: skip
        if named and _speaker(best) not in named:
            return None  # the question is about someone else's words
        if found is not None and _LIST.match(question):
            used, items, pool = [best], [text], turns[: read_turns + LIST_READS]
            for _ in range(LIST_READS):
                more = more_of_list(question, used, items, pool, named, read)
                if more is None:
                    break
                used.append(more[0])
                items.append(more[1])
            if len(items) > 1:
                return _cited(best, ", ".join(items), "memory", used[1:])
    if _WHEN.match(question) and not (found and named_spans(text)):  # "in 2021" answers itself
        text = _when(best, text)
    if not fits(question, text):
        return None  # "How many pets …?" is not answered "Max and Daisy"
    return _cited(best, text, "memory")


def more_of_list(
    question: str, used: Sequence[Hit], items: Sequence[str], turns: Sequence[Hit],
    named: set[str], read: Reader,
) -> tuple[Hit, str] | None:  # fmt: skip
    """For a question whose answer is a list, one more item: the reader reads the turns not
    ``used`` yet (the named speakers' own) and the span it copies, where a turn holds it and it
    is not one of the ``items`` already said nor a speaker's name ("What are the names of
    Jolene's snakes?" is not answered "Susie, Jolene")."""
    rest = [h for h in turns if h not in used and (not named or _speaker(h) in named)]
    if not rest:
        return None
    found = locate(read(question, passage(rest)), rest)
    if found is None:
        return None
    item, said = normalize(found[1]), normalize(", ".join(items))
    if not item or item in said or item in {normalize(_speaker(h)) for h in turns}:
        return None  # nothing new: said already, or only a speaker's name
    return found


def memory_answer(
    question: str, hits: Sequence[Hit], stated: Sequence[Fact], turn: Hit | None,
    read: Reader | None = None, *, floor: float = 0.9, read_turns: int = 3,
    order: Order | None = None,
) -> Remembered | None:  # fmt: skip
    """The chat turn's answer from memory (see the module docstring), or None.

    ``hits``: the session's memory candidates, best first; ``stated``: facts this message
    stated; ``turn``: this message as a memory hit (what an acknowledgment cites)."""
    if is_statement(question):
        return acknowledge(question, stated, turn) if turn is not None and stated else None
    return from_memory(question, hits, read, floor=floor, read_turns=read_turns, order=order)
