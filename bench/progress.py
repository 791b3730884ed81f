"""A long bench's progress line: counts and seconds on stderr at a terminal, nothing when
piped (a log or a results file holds the figures only)."""

from __future__ import annotations

import sys
import time


class Ticker:
    """``tick()`` after each item: "12/382 questions, 40 s", rewritten in place."""

    def __init__(self, total: int, noun: str = "questions") -> None:
        self.total, self.noun, self.done = total, noun, 0
        self.t0 = time.perf_counter()
        self.shown = sys.stderr.isatty()

    def tick(self) -> None:
        self.done += 1
        if self.shown:
            el = time.perf_counter() - self.t0
            print(f"\r{self.done}/{self.total} {self.noun}, {el:.0f} s", end="", file=sys.stderr,
                  flush=True)  # fmt: skip

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)
