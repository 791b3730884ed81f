"""A title or heading over a paragraph too long to share its chunk is the header of the chunks
under it, not a chunk of its own that says nothing (the recursive splitter cuts at blank lines
first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import Section
from ingest.split import Splitter
from memory.bert_tokens import BertTokenizer
from memory.embeddings import resolve_embedder_path
from memory.minilm import mean_pool_config

TITLE = "Crystal structure of a nucleosome core particle containing the variant histone H2A.Z"
ABSTRACT = " ".join(
    f"Sentence {i} of the abstract reports that the 2.6 Å structure differs in {i} places."
    for i in range(40)
)  # far over one chunk


@pytest.fixture(scope="module")
def splitter() -> Splitter:
    folder = Path(resolve_embedder_path("all-MiniLM-L6-v2"))
    max_tokens = mean_pool_config(folder)
    assert max_tokens is not None
    return Splitter(BertTokenizer(folder, max_tokens).count, max_tokens, 200, 32)


def test_a_title_over_a_long_paragraph_heads_its_chunks(splitter: Splitter) -> None:
    text = f"{TITLE}\n\n{ABSTRACT}\n\n2.2 Sharing Personal Information\n\n{ABSTRACT}"
    chunks = splitter.split("paper.txt", "text", [Section(text)])
    assert len(chunks) > 2
    assert all(c.text.strip() not in (TITLE, "2.2 Sharing Personal Information") for c in chunks)
    for c in chunks:
        assert text[c.start : c.end] == c.text  # offsets still point at the shown text
    second = text.index("2.2 Sharing")
    # the document's title is its chunks' title (sparse header only); a heading, their path
    assert {(c.title, c.headings) for c in chunks if c.start < second} == {(TITLE, "")}
    assert {c.headings for c in chunks if c.start > second} == {"2.2 Sharing Personal Information"}
    assert all(TITLE in c.indexed() for c in chunks)  # the header: searchable with every chunk


def test_a_heading_inside_a_chunk_ends_the_one_before(splitter: Splitter) -> None:
    """ "Appendix" shares a chunk with the short paragraph under it: the chunks after it are
    under "Appendix", no longer under "2.2 Sharing Personal Information"."""
    short = "The appendix lists the offices in Bergen and Oslo."
    text = (
        f"{TITLE}\n\n2.2 Sharing Personal Information\n\n{ABSTRACT}\n\nAppendix\n\n{short}"
        f"\n\n{ABSTRACT}"
    )
    chunks = splitter.split("policy.txt", "text", [Section(text)])
    at = text.index("Appendix")
    opening = [c for c in chunks if c.start == at]
    assert len(opening) == 1 and opening[0].end > at + 20  # with the text under it
    assert opening[0].headings == ""  # its first line says it: no header says it twice
    assert {c.headings for c in chunks if c.start > at} == {"Appendix"}
    assert {c.headings for c in chunks if c.end <= at} == {"2.2 Sharing Personal Information"}


def test_what_is_not_a_lone_heading_stays_a_chunk(splitter: Splitter) -> None:
    for lone in ("pip install overlay", "The desk answers by phone.", "MY_SETTING=1"):
        text = f"{lone}\n\n{ABSTRACT}"
        chunks = splitter.split("readme.txt", "text", [Section(text)])
        assert chunks[0].text.strip() == lone and chunks[0].headings == ""
    underlined = "Mozilla Public License\n======================"
    chunks = splitter.split("l.txt", "text", [Section(f"{underlined}\n\n{ABSTRACT}")])
    assert "=====" not in chunks[0].text  # an underlined title alone is no chunk either
    # a heading with nothing after it is the document's last words: kept
    chunks = splitter.split("notes.txt", "text", [Section(f"{ABSTRACT}\n\nAppendix")])
    assert chunks[-1].text.strip() == "Appendix"
