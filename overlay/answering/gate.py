"""Streaming generated prose a sentence at a time, each sentence only once it is grounded.

``SentenceGate`` sits between ``decode(..., on_text=gate)`` and the caller's ``on_text``. It
buffers the decoded pieces; when a sentence is complete (an end mark followed by space) it
checks it (``check``: the one-sentence grounding rule) and, if it passes, hands it on. The
first sentence that fails closes the gate: it and everything after it are dropped, so no text
that was sent is ever replaced — the answer is the grounded sentences sent so far.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from overlay.model.decode import OnText

_END = re.compile(r"[.!?](?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])?\s+(?=\S)")


class SentenceGate:
    """Pass on generated sentences that ``check`` accepts, in order, until one fails."""

    def __init__(
        self, check: Callable[[str], bool], clean: Callable[[str], str], on_text: OnText | None
    ) -> None:
        self.check, self.clean, self.on_text = check, clean, on_text
        self.buffer = ""
        self.kept: list[str] = []
        self.closed = False

    def __call__(self, piece: str) -> None:
        if self.closed:
            return
        self.buffer += piece
        while not self.closed and (m := _END.search(self.buffer)):
            sentence, self.buffer = self.buffer[: m.end()], self.buffer[m.end() :]
            self._offer(sentence)

    def finish(self) -> str:
        """Offer what is left (the last sentence) and return the text sent, joined."""
        if not self.closed and self.buffer.strip():
            self._offer(self.buffer)
        self.buffer, self.closed = "", True
        return self.text

    @property
    def text(self) -> str:
        return " ".join(self.kept)

    def send(self, text: str) -> None:
        """Hand ``text`` on as it is (an appended citation, a fallback answer)."""
        if self.on_text is not None and text:
            self.on_text(text)

    def _offer(self, sentence: str) -> None:
        sentence = self.clean(sentence)
        if not sentence:
            return
        if not self.check(sentence):
            self.closed = True
            return
        self.send(sentence if not self.kept else " " + sentence)
        self.kept.append(sentence)
