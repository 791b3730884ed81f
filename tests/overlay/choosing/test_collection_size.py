"""A collection's size as the answer gate reads it: the sources in its manifest and the chunks in
its sparse index, on one Redis server and on a Redis Cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths, remove_source
from memory.types import CollectionSize
from overlay.choosing.candidates import collection_size
from overlay.services import Services

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "docs"


@pytest.fixture
def services(services_both: Services) -> Services:
    return services_both


def test_sources_and_chunks_follow_what_is_ingested_and_removed(services: Services) -> None:
    assert collection_size(services, "nothing-here") == CollectionSize(0, 0)
    one = ingest_paths(services, [EXAMPLES / "handbook.md"], collection="sized", chunk_size=64)
    size = collection_size(services, "sized")
    assert size == CollectionSize(1, one.chunks_written) and size.chunks >= 2
    more = ingest_paths(services, [EXAMPLES / "support.html"], collection="sized", chunk_size=64)
    both = collection_size(services, "sized")
    assert both == CollectionSize(2, one.chunks_written + more.chunks_written)
    remove_source(services, str((EXAMPLES / "support.html").resolve()), collection="sized")
    assert collection_size(services, "sized") == size
