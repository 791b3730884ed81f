"""Shapes of text that have made splitters slow: one long token, one letter repeated, lines
with no breaks, one-character paragraphs, deeply nested Markdown, whitespace-separated
tokens too long for a chunk, and a mix of them. Used by ``test_ingest_shapes.py`` (work
counted) and ``bench/split_bench.py`` (time measured)."""

from __future__ import annotations

import random

WORDS = "the barometer gauge reads pressure and humidity in Bergen while it rains".split()
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789+/"
SHAPES = [
    "one_long_token",
    "one_repeated_char",
    "very_long_lines",
    "tiny_paragraphs",
    "deep_markdown",
    "long_words",
    "mix",
]


def prose(rnd: random.Random, n: int) -> str:
    """Sentences of common words, a paragraph break after one in five: ``n`` characters."""
    out: list[str] = []
    size = 0
    while size < n:
        sentence = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 20))) + ". "
        sentence += "\n\n" if rnd.random() < 0.2 else ""
        out.append(sentence)
        size += len(sentence)
    return "".join(out)[:n]


def _token(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice(TOKEN_CHARS) for _ in range(n))


def shape(name: str, rnd: random.Random, n: int, char: str, depth: int) -> tuple[str, str]:
    """(text of about ``n`` characters, loader kind) for one of ``SHAPES``; ``char`` is the
    repeated or paragraph character, ``depth`` the Markdown nesting."""
    if name == "one_long_token":
        return _token(rnd, n), "text"
    if name == "one_repeated_char":
        return char * n, "text"
    if name == "very_long_lines":
        return prose(rnd, n).replace("\n", " "), "text"
    if name == "tiny_paragraphs":
        return (char + "\n\n") * (n // (len(char) + 2)), "text"
    if name == "deep_markdown":
        line = "> " * depth + "- " + " ".join(rnd.choice(WORDS) for _ in range(3)) + "\n"
        head = "#" * (1 + depth % 6) + " heading\n```\ncode\n```\n"
        return ((head + line * 3) * (n // (len(head) + 3 * len(line)) + 1))[:n], "markdown"
    if name == "long_words":  # base64-like words of 200-999 characters: each over a chunk
        words: list[str] = []
        while sum(map(len, words)) < n:
            words.append(_token(rnd, rnd.randint(200, 999)))
        return " ".join(words)[:n], "markdown" if depth % 2 else "text"
    parts = [shape(s, rnd, n // 5, char, depth)[0] for s in SHAPES[:-1]]  # runs of each, glued
    rnd.shuffle(parts)
    return "\n".join(parts), "markdown" if depth % 2 else "text"
