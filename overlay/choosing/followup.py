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
# opens a question that goes on from the last one: "And email?", "What about the K-9?"
_GOES_ON = re.compile(r"\s*(?:and|also|(?:what|how)\s+about)\b", re.IGNORECASE)
# a name of its own after the first word: "Peru", "T-40", "Kestrel" (not "I", "I'm")
_NAME = re.compile(r"\s[\"'“‘(]?(?!I\b|I')[A-Z][\w'’-]*")
SHORT_TERMS = 3  # a question with at most this many content terms is "short"
BORROW_TURNS = 2  # how many earlier user turns lend their topic


def is_followup(question: str) -> bool:
    """Whether ``question`` refers back (a pronoun such as "it"), goes on from the last one
    ("And email?", "What about the K-9?"), or is too short to stand alone and names nothing of
    its own: "Who approves the flights?" borrows the trip asked about before, "What is the
    capital of Peru?" does not (a question about Peru after one about a data logger retrieved
    the logger's passages, and the answer gate passed them)."""
    words = {w.lower() for w in _WORD.findall(question)}
    if words & _REFERRING or _GOES_ON.match(question):
        return True
    return len(terms(question)) <= SHORT_TERMS and not _NAME.search(question)


def retrieval_query(question: str, earlier_user_turns: Sequence[str]) -> str:
    """The query to retrieve with: ``question`` itself, or, for a follow-up, the last
    ``BORROW_TURNS`` user turns (oldest first) followed by ``question``."""
    earlier = [t.strip() for t in earlier_user_turns if t and t.strip()]
    if not earlier or not is_followup(question):
        return question
    return "\n".join([*earlier[-BORROW_TURNS:], question])
