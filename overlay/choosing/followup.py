"""Follow-up resolution for retrieval: a short or referring question borrows its topic.

"When was it first released?" after "What does the Lumen L-2 store?" names no product; the
retrieval query is then the question with the previous user turns' words in front, so dense
and sparse retrieval find the passage the conversation is about. Pure: a function of the
question and the earlier user turns (``bench/followups.py`` measures the hit rate).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from overlay.choosing.views import terms

# words that point back at something named earlier
_REFERRING = frozenset(
    """it its it's itself they them their theirs this that these those he him his she her
    there then one ones same former latter above such""".split()
)
_WORD = re.compile(r"[A-Za-z']+")
SHORT_TERMS = 3  # a question with at most this many content terms is "short"
BORROW_TURNS = 2  # how many earlier user turns lend their topic


def is_followup(question: str) -> bool:
    """Whether ``question`` refers back (a pronoun such as "it") or is too short to stand alone."""
    words = {w.lower() for w in _WORD.findall(question)}
    return bool(words & _REFERRING) or len(terms(question)) <= SHORT_TERMS


def retrieval_query(question: str, earlier_user_turns: Sequence[str]) -> str:
    """The query to retrieve with: ``question`` itself, or, for a follow-up, the last
    ``BORROW_TURNS`` user turns (oldest first) followed by ``question``."""
    earlier = [t.strip() for t in earlier_user_turns if t and t.strip()]
    if not earlier or not is_followup(question):
        return question
    return "\n".join([*earlier[-BORROW_TURNS:], question])
