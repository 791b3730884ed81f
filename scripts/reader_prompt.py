"""The reader adapter's prompt: THE contract between its training data and the answering code.

One user message holding the passage and the question; the assistant's reply is the short
answer span copied from the passage (no final full stop, no citation). The default chat
template of the base model wraps it (SmolLM2 adds its own default system line). Runtime code
copies this constant and function verbatim.
"""

from __future__ import annotations

READER_PROMPT = (
    "Passage: {passage}\nQuestion: {question}\n"
    "Answer with the shortest phrase copied from the passage."
)
# The reply when the passage does not answer the question (one token of SmolLM2's vocabulary).
NO_ANSWER = "none"


def reader_messages(passage: str, question: str) -> list[dict[str, str]]:
    """Chat messages asking the reader adapter for the answer span (add the generation prompt)."""
    text = READER_PROMPT.format(passage=" ".join(passage.split()), question=question.strip())
    return [{"role": "user", "content": text}]
