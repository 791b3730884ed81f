"""Bounded work per input character: splitting does O(n) work with a small constant for
every shape of text (``text_shapes``).

The work is counted, not timed: tokenizer calls and the characters handed to the tokenizer
(where a splitter's time goes), per input character, at two sizes. Counts are the same on an
idle and on a loaded machine, and a quadratic splitter (one that measures a growing prefix,
say) is far over the bound at the larger size. What a shape costs in seconds per MB, and how
that scales from 1 MB to 4 MB, is ``bench/split_bench.py``'s to measure."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.loaders import Section
from ingest.split import Splitter
from memory.bert_tokens import BertTokenizer
from memory.embeddings import resolve_embedder_path
from memory.minilm import mean_pool_config
from tests.ingest.text_shapes import SHAPES, prose, shape

SIZES = (16_000, 64_000)  # characters; the bounds below hold at both
# The recursive splitter measures each piece about three times (split, merge, chunk): a text
# of one-character lines makes 1.5 calls per character. 2 or more means pieces of single
# characters (a whitespace-free run over a chunk, cut letter by letter: 2.4-3).
CALLS_PER_CHAR = 2.0
# Characters tokenized per input character: 5.3 for prose, at most 6.9 over these shapes at
# either size; re-measuring a growing prefix would give tens at 64k.
TOKENIZED_PER_CHAR = 10.0


@dataclass
class Counting:
    """The production tokenizer's ``count``, counting its calls and their characters."""

    tokenizer: BertTokenizer
    max_tokens: int
    calls: int = 0
    chars: int = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return self.tokenizer.count(text)


@pytest.fixture(scope="module")
def counting() -> Counting:
    folder = Path(resolve_embedder_path("all-MiniLM-L6-v2"))
    max_tokens = mean_pool_config(folder)
    assert max_tokens is not None, folder
    return Counting(BertTokenizer(folder, max_tokens), max_tokens)


def _splitter(counting: Counting) -> Splitter:
    return Splitter(counting, counting.max_tokens, 200, 32)  # the default chunking


def _work(counting: Counting, text: str, kind: str) -> tuple[float, float]:
    """(tokenizer calls, characters tokenized) per character of ``text``."""
    splitter = _splitter(counting)
    counting.calls = counting.chars = 0
    splitter.split("s", kind, [Section(text)])
    return counting.calls / len(text), counting.chars / len(text)


def test_prose_is_the_yardstick(counting: Counting) -> None:
    calls, chars = _work(counting, prose(random.Random(1), SIZES[-1]), "text")
    assert calls < 0.05 and 4 < chars < 7, (calls, chars)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(SHAPES),
    seed=st.integers(0, 2**16),
    char=st.text(st.characters(codec="utf-8"), min_size=1, max_size=2),  # no surrogates
    depth=st.integers(1, 60),
)
def test_work_per_character_is_bounded_for_every_text_shape(
    counting: Counting, name: str, seed: int, char: str, depth: int
) -> None:
    for n in SIZES:
        text, kind = shape(name, random.Random(seed), n, char, depth)
        if not text.strip():
            continue
        calls, chars = _work(counting, text, kind)
        assert calls < CALLS_PER_CHAR, (name, repr(char), depth, n, calls)
        assert chars < TOKENIZED_PER_CHAR, (name, repr(char), depth, n, chars)


def test_words_too_long_for_a_chunk_are_windowed_not_cut_letter_by_letter(
    counting: Counting,
) -> None:
    rnd = random.Random(5)
    text, _ = shape("long_words", rnd, SIZES[0], "a", 2)
    calls, _ = _work(counting, text, "text")
    assert calls < 0.1, calls  # it was 2.4-2.9: every letter counted three times
    splitter = _splitter(counting)
    for c in splitter.split("s", "text", [Section(text)]):
        assert text[c.start : c.end] == c.text and c.tokens <= splitter.limit


def test_a_long_run_of_one_letter_splits_into_windows_that_cover_it(counting: Counting) -> None:
    splitter = _splitter(counting)
    text = "intro words here. " + "A" * 25_000 + " outro words."
    chunks = splitter.split("s", "text", [Section(text)])
    covered = "".join(c.text for c in chunks if set(c.text) == {"A"})
    assert covered == "A" * 25_000
    for c in chunks:
        assert text[c.start : c.end] == c.text
