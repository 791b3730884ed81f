"""Bounded work per input byte: splitting costs O(n) with a small constant for every shape
of text, measured against plain prose of the same size in the same run (the machine is
shared and noisy, so only the ratio is asserted, with room)."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.loaders import Section
from ingest.split import Splitter

SIZE = 48_000  # characters per sample
RATIO = 12.0  # a shape may cost this many times prose per MB, no more
WORDS = "the barometer gauge reads pressure and humidity in Bergen while it rains".split()


def _prose(rnd: random.Random, n: int) -> str:
    out: list[str] = []
    size = 0
    while size < n:
        sentence = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 20))) + ". "
        sentence += "\n\n" if rnd.random() < 0.2 else ""
        out.append(sentence)
        size += len(sentence)
    return "".join(out)[:n]


def _shape(name: str, rnd: random.Random, char: str, depth: int) -> tuple[str, str]:
    n = SIZE
    if name == "one_long_token":
        return "".join(
            rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(n)
        ), "text"
    if name == "one_repeated_char":
        return char * n, "text"
    if name == "very_long_lines":
        return _prose(rnd, n).replace("\n", " "), "text"
    if name == "tiny_paragraphs":
        return (char + "\n\n") * (n // (len(char) + 2)), "text"
    if name == "deep_markdown":
        line = "> " * depth + "- " + " ".join(rnd.choice(WORDS) for _ in range(3)) + "\n"
        head = "#" * (1 + depth % 6) + " heading\n```\ncode\n```\n"
        return ((head + line * 3) * (n // (len(head) + 3 * len(line)) + 1))[:n], "markdown"
    # a mix: runs of every shape glued together
    parts = [_shape(s, rnd, char, depth)[0][: n // 5] for s in SHAPES[:-1]]
    rnd.shuffle(parts)
    return "\n".join(parts), "markdown" if depth % 2 else "text"


SHAPES = [
    "one_long_token",
    "one_repeated_char",
    "very_long_lines",
    "tiny_paragraphs",
    "deep_markdown",
    "mix",
]


def _seconds_per_mb(splitter: Splitter, text: str, kind: str) -> float:
    t0 = time.perf_counter()
    splitter.split("s", kind, [Section(text)])
    return (time.perf_counter() - t0) / max(len(text), 1) * 2**20


@pytest.fixture(scope="module")
def splitter(minilm) -> Splitter:
    return Splitter(minilm.count_tokens, minilm.max_tokens, 200, 32)


PROSE = _prose(random.Random(1), SIZE)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(SHAPES),
    seed=st.integers(0, 2**16),
    char=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=2),
    depth=st.integers(1, 60),
)
def test_time_per_mb_is_bounded_for_every_text_shape(
    splitter: Splitter, name: str, seed: int, char: str, depth: int
) -> None:
    text, kind = _shape(name, random.Random(seed), char, depth)
    cost, prose = [], []
    for _ in range(2):  # interleaved, best of two: a busy neighbour slows both alike
        prose.append(_seconds_per_mb(splitter, PROSE, "text"))
        cost.append(_seconds_per_mb(splitter, text, kind))
    assert min(cost) <= RATIO * min(prose) + 0.5, (name, repr(char), depth, cost, prose)


def test_a_long_run_of_one_letter_splits_into_windows_that_cover_it(splitter: Splitter) -> None:
    text = "intro words here. " + "A" * 25_000 + " outro words."
    chunks = splitter.split("s", "text", [Section(text)])
    covered = "".join(c.text for c in chunks if set(c.text) == {"A"})
    assert covered == "A" * 25_000
    for c in chunks:
        assert text[c.start : c.end] == c.text
