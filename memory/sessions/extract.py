"""Facts a user states about themselves: keyed extraction and question cues.

Extraction is a pure, table-driven function: each row of ``RULES`` is a regular
expression over one clause, the fact key it fills, and how the stated value
ends. Values are kept in the user's own words and language — never translated,
never re-cased. Keys are internal (``name``, ``city``, …) so that a later
statement on the same key supersedes the earlier one ("name: Alex → Bob").

The store for these facts is ``memory.sessions.facts`` (used by ``memory.sessions.store``);
tenant-wide taught facts (subject, relation → object) live in ``memory.tables.taught``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from memory.errors import InvalidInput


@dataclass
class Fact:
    """One keyed fact: the current value plus the values it superseded (oldest first)."""

    key: str
    value: str
    text: str  # the fact as a sentence, in the user's words where possible
    ts: float = 0.0
    session: str = ""
    turn: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "text": self.text,
            "ts": self.ts,
            "session": self.session,
            "turn": self.turn,
            "history": list(self.history),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fact:
        return cls(
            key=str(d["key"]),
            value=str(d["value"]),
            text=str(d.get("text") or d["value"]),
            ts=float(d.get("ts") or 0.0),
            session=str(d.get("session") or ""),
            turn=str(d.get("turn") or ""),
            history=list(d.get("history") or []),
        )

    def history_line(self) -> str:
        """``"name: Alex → Bob"``."""
        values = [str(h["value"]) for h in self.history] + [self.value]
        return f"{self.key}: " + " → ".join(values)


@dataclass(frozen=True)
class Rule:
    """One extraction row: ``pattern`` captures ``(?P<v>…)``; ``key`` may use ``{k}``."""

    pattern: re.Pattern[str]
    key: str
    phrase: str  # how the fact reads back; "{v}" = value, "{k}" = captured key, "" = the clause
    stop: str = r"[!?;]|\.(?:\s|$)"  # where the value ends


def _r(pattern: str, key: str, phrase: str = "", stop: str = r"[!?;]|\.(?:\s|$)") -> Rule:
    return Rule(re.compile(pattern, re.IGNORECASE | re.UNICODE), key, phrase, stop)


_NAME_STOP = r"[!?;,(]|\.(?:\s|$)|\s+(?:and|but|from|because|though|btw|und|et|y)\b"
_PLACE_STOP = (
    r"[!?;(]|\.(?:\s|$)|\s+(?:and|but|because|since|for|with|now|these days|ago)\b"
    r"|\s+(?:last|this|next|a|one|two|three|few|several|\d+)\s+(?:years?|months?|weeks?|days?)\b"
    r"|\s+in\s+\d{4}\b"
)

# Order matters: the first rule that matches a clause wins.
RULES: tuple[Rule, ...] = (
    _r(
        r"^(?:please\s+)?(?:remember|note|keep in mind|don't forget|do not forget)"
        r"(?:\s+that)?[:,]?\s+(?P<v>.+)$",
        "note",
        "{v}",
        r"$",
    ),
    _r(r"^my name(?:'s| is)\s+(?P<v>.+)$", "name", "my name is {v}", _NAME_STOP),
    _r(
        r"^(?:you can |you may |please |just |everyone |people |friends )?call me\s+(?P<v>.+)$",
        "name",
        "my name is {v}",
        _NAME_STOP,
    ),
    _r(r"^i(?:'m| am) called\s+(?P<v>.+)$", "name", "my name is {v}", _NAME_STOP),
    _r(r"^i go by\s+(?P<v>.+)$", "name", "my name is {v}", _NAME_STOP),
    _r(r"^i (?:live|reside|stay) in\s+(?P<v>.+)$", "city", "I live in {v}", _PLACE_STOP),
    _r(r"^i(?:'m| am) (?:based|living) in\s+(?P<v>.+)$", "city", "I live in {v}", _PLACE_STOP),
    _r(r"^i(?:'ve| have)? (?:just )?moved to\s+(?P<v>.+)$", "city", "I live in {v}", _PLACE_STOP),
    _r(r"^my (?:home ?town|city) is\s+(?P<v>.+)$", "city", "I live in {v}", _PLACE_STOP),
    _r(r"^i(?:'m| am) from\s+(?P<v>.+)$", "from", "I am from {v}", _PLACE_STOP),
    _r(r"^i (?:really )?prefer\s+(?P<v>.+)$", "preference", "I prefer {v}"),
    _r(
        r"^i(?:'d| would) rather (?:have |use |drink |eat )?\s*(?P<v>.+)$",
        "preference",
        "I prefer {v}",
    ),
    _r(r"^i work (?:at|for)\s+(?P<v>.+)$", "employer", "I work at {v}", _PLACE_STOP),
    _r(r"^i work as\s+(?:an? )?(?P<v>.+)$", "job", "I work as {v}"),
    _r(r"^i work in\s+(?P<v>.+)$", "workplace", "I work in {v}", _PLACE_STOP),
    _r(r"^i(?:'m| am)\s+(?P<v>\d{1,3})\s+years? old$", "age", "I am {v} years old"),
    _r(r"^i(?:'m| am) allergic to\s+(?P<v>.+)$", "allergy", "I am allergic to {v}"),
    _r(r"^my (?P<k>favou?rite [\w' -]{1,30}?) (?:is|are)\s+(?P<v>.+)$", "{k}", "my {k} is {v}"),
    _r(r"^my (?P<k>[\w' -]{2,40}?) (?:is|are)\s+(?P<v>.+)$", "{k}", "my {k} is {v}"),
    # other languages: the value and the reading stay in the user's words
    _r(
        r"^(?:je m'appelle|mon nom est|me llamo|mi nombre es|ich heiße|ich heisse|"
        r"mein name ist|mi chiamo|il mio nome è|meu nome é|eu me chamo)\s+(?P<v>.+)$",
        "name",
        "",
        _NAME_STOP,
    ),
    _r(
        r"^(?:j'habite à|j'habite a|je vis à|vivo en|ich wohne in|ich lebe in|vivo a|moro em)"
        r"\s+(?P<v>.+)$",
        "city",
        "",
        _PLACE_STOP,
    ),
    _r(
        r"^(?:je préfère|prefiero|ich bevorzuge|preferisco|eu prefiro)\s+(?P<v>.+)$",
        "preference",
        "",
    ),
)

# Leading words that do not change what is stated ("actually, call me Bob").
_LEAD = re.compile(
    r"^(?:(?:oh|ah|well|so|and|also|actually|btw|by the way|anyway|hey|hi|hello|ok|okay|"
    r"yes|no|sorry|oops|just so you know|fyi|for the record|in fact|now|please)\b[\s,:;!-]*)+",
    re.IGNORECASE,
)
# sentence ends, and "… and I/my …" (a second statement about oneself in one sentence)
_CLAUSE = re.compile(r"(?<=[.!?;])\s+|\n+|,?\s+and\s+(?=(?:i|my|i'm|i've)\b)", re.IGNORECASE)
# "my X is …" keys that are not facts about the user.
_BAD_KEYS = {
    "question",
    "problem",
    "point",
    "guess",
    "answer",
    "issue",
    "bad",
    "pleasure",
    "turn",
    "fault",
    "concern",
    "request",
    "idea",
    "opinion",
    "mistake",
}
_BAD_VALUES = {
    "later",
    "tomorrow",
    "back",
    "today",
    "tonight",
    "anytime",
    "now",
    "soon",
    "again",
    "when",
    "if",
    "maybe",
    "crazy",
    "please",
    "sometime",
    "that",
    "it",
}


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.split(text) if c and c.strip()]


def _cut(value: str, stop: str) -> str:
    m = re.search(stop, value, re.IGNORECASE)
    if m and stop != r"$":
        value = value[: m.start()]
    return value.strip().strip("\"'“”‘’").strip()


def _key_of(rule: Rule, m: re.Match[str]) -> str:
    if "{k}" not in rule.key:
        return rule.key
    return re.sub(r"\s+", " ", m.group("k").strip().lower())


def _match(rule: Rule, clause: str) -> Fact | None:
    m = rule.pattern.match(clause)
    if not m:
        return None
    value = _cut(m.group("v"), rule.stop)
    if rule.key == "note":
        value = value.rstrip(".!?; ")
    if not value or len(value) > 200 or value.lower() in _BAD_VALUES:
        return None
    key = _key_of(rule, m)
    if key in _BAD_KEYS or key.split()[-1] in _BAD_KEYS:
        return None
    if key == "note":
        key = "note:" + hashlib.sha1(value.lower().encode()).hexdigest()[:10]
    phrase = rule.phrase.format(v=value, k=key) if rule.phrase else clause.rstrip(".!? ")
    return Fact(key=key, value=value, text=phrase)


def extract_facts(text: str) -> list[Fact]:
    """Facts stated in one user message, in order (a key stated twice keeps the last)."""
    found: dict[str, Fact] = {}
    for raw in _clauses(text):
        clause = _LEAD.sub("", raw).strip()
        for rule in RULES:
            fact = _match(rule, clause)
            if fact is not None:
                found.pop(fact.key, None)
                found[fact.key] = fact
                break
    return list(found.values())


# Words in a question that point at a keyed fact ("where do I live?" → city).
CUES: dict[str, re.Pattern[str]] = {
    k: re.compile(p, re.IGNORECASE)
    for k, p in {
        "name": r"\b(?:name|called|call me|who am i)\b|\bnom\b|\bnombre\b|heiße|heisse",
        "city": r"\b(?:live|living|city|town|based|reside|where do i|where am i)\b|wohne|habite",
        "from": r"\b(?:from|home ?town|grow up|grew up|born)\b",
        "preference": r"\b(?:prefer|preference|rather|like best|favou?rite)\b",
        "employer": r"\b(?:work|employer|company|job)\b",
        "job": r"\b(?:work|job|profession|occupation|do for a living)\b",
        "age": r"\b(?:old|age)\b",
        "allergy": r"\b(?:allerg\w*)\b",
    }.items()
}
_STOP = {"my", "the", "a", "an", "of", "is", "are", "favorite", "favourite", "s"}


def cue_matches(key: str, question: str) -> bool:
    """Whether ``question`` asks about the fact ``key`` by its words, not only by meaning."""
    if key.startswith("note:"):
        return False
    cue = CUES.get(key)
    if cue is not None:
        return bool(cue.search(question))
    words = {w for w in re.findall(r"\w+", key.lower()) if w not in _STOP}
    asked = set(re.findall(r"\w+", question.lower()))
    return bool(words) and words <= asked


def normalise_key(key: str) -> str:
    """Keys given by hand: lower-case, single spaces; refuse empty or huge keys."""
    k = re.sub(r"\s+", " ", (key or "").strip().lower())
    if not k or len(k) > 80:
        raise InvalidInput("a fact key must be 1-80 characters")
    return k
