"""What a question's words say about the answer it wants, before any passage is read: the scope
it is asked within ("Under the Apache License, …", "… under the Mozilla Public License?"), the
question that is left, and the term it asks the meaning of ("What is a Larger Work?")."""

from __future__ import annotations

import re

# a question's leading scope ("Under the Apache License, can I …", "In a steam turbine, what …"):
# the kind of answer it asks for is told by what follows it
_SCOPE = re.compile(
    r"^\s*(?:under|in|according\s+to|as\s+per|per|for|within|regarding|on|at|during|if|when|"
    r"once|after|before)\s+[^,?]{2,60}?,\s*(?=(?:what|which|who|whom|whose|when|where|why|how|"
    r"do|does|did|is|are|was|were|can|could|will|would|may|might|must|should|shall|has|have|"
    r"had)\b)",
    re.IGNORECASE,
)


_TRAILING_SCOPE = re.compile(
    r"\b(?:under|in|of|according\s+to|per)\s+(?:the\s+)?(?P<name>[A-Z][^?,;]{1,60}?)\s*\??\s*$"
)


def question_scope(question: str) -> str:
    """The part of ``question`` that only scopes it: a leading clause ("Under the Apache
    License, …") and a trailing named thing ("… under the Mozilla Public License?")."""
    core = question_core(question)
    trailing = _TRAILING_SCOPE.search(core)
    lead = question[: len(question) - len(core)]
    return f"{lead} {trailing.group('name')}" if trailing else lead


def question_core(question: str) -> str:
    """``question`` without a leading scope phrase: "Under the Apache License, can I use its
    trademarks?" → "can I use its trademarks?" (what a question's opening words are read for)."""
    return _SCOPE.sub("", question, count=1)


# "What is a Larger Work?", "What are Trade receivables?", "What does 'Licensable' mean?": the
# question asks what a term means, and the answer is where the text defines it
_NOT_TERM = (
    r"the|this|that|these|those|its|their|his|her|your|my|our|of|for|to|in|on|at|by|from|with|"
    r"about|as|used|called|known|located|made|considered|named|said|based|given|needed|required"
)
_TERM = (
    rf"[\"“']?(?P<term>(?!(?:{_NOT_TERM})\b)[^\s?\"”']+"
    rf"(?:\s+(?!(?:{_NOT_TERM})\b)[^\s?\"”']+){{0,3}})[\"”']?"
)
_DEFINE = [
    re.compile(
        rf"^\s*(?:what\s+(?:is|are)\s+(?:meant\s+by\s+)?(?:an?\s+)?|define\s+){_TERM}\s*\??\s*$",
        re.IGNORECASE,
    ),
    re.compile(rf"^\s*what\s+does\s+{_TERM}\s+mean\s*\??\s*$", re.IGNORECASE),
    # a capitalised term after "the", as contracts and licences define them: "What is the
    # Corresponding Source?" (not "What is the Norman architecture idiom?")
    re.compile(
        r"^\s*(?i:what\s+(?:is|are)\s+the)\s+[\"“']?(?P<term>[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*){0,3})"
        r"[\"”']?\s*\??\s*$"
    ),  # fmt: skip
]
_LEAD = re.compile(
    r"^(?:\(?[\d.]+[.)]?\s+|\(?[a-z]\)\s+)?[\"“'(]*(?:the\s+[\"“']?)?", re.IGNORECASE
)


def defined_term(question: str) -> str | None:
    """The term ``question`` asks the meaning of ("What is a Larger Work?" → "Larger Work"),
    or None. A possessive or a phrase with "of"/"for"/"the" is not a term: "What is William
    Rankine's nationality?" asks for a fact."""
    core = question_core(question)
    m = next((m for d in _DEFINE if (m := d.match(core))), None)
    term = m.group("term") if m else None
    return None if term is None or "'s" in term or "’s" in term else term


def defines(sentence: str, term: str) -> bool:
    """Whether ``sentence`` opens with ``term`` (after a section number or a quote), where a
    definition puts it: '1.7. "Larger Work" means …', "Goodwill represents …"."""
    opening = _LEAD.sub("", sentence, count=1)
    return _words(opening[: len(term) + 2]).startswith(_words(term))


def _words(text: str) -> str:
    """Lower case, punctuation as spaces ("Audit-related" keeps both words; spans.normalize,
    for answers, drops punctuation and articles instead)."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
