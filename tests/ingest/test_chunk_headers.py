"""Contextual chunk headers: the document's name and heading path are indexed with each chunk
(never shown), so a question that names the document finds that document's chunks."""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import ingest_paths
from ingest.split import title_of
from overlay.services import Services
from overlay.turn import retrieve

BODY = "Patent licenses granted to you terminate as of the date such litigation is filed.\n"


def test_title_of_reads_a_source_name() -> None:
    assert title_of("/docs/apache-license_2.0.txt") == "apache license 2.0"
    assert title_of("https://example.org/licences/MPL-2.0") == "MPL 2.0"
    assert title_of("handbook.md") == "handbook"


def test_a_question_naming_the_document_prefers_its_chunks(
    services: Services, tmp_path: Path
) -> None:
    docs = tmp_path / "licences"
    docs.mkdir()
    (docs / "apache-license.txt").write_text(BODY)
    (docs / "mozilla-public-license.txt").write_text(BODY)  # the same words, another document
    assert ingest_paths(services, [docs], collection="lic").failed == 0
    for name, stem in (("Apache License", "apache-license"), ("Mozilla", "mozilla-public-license")):
        hits = retrieve(services, f"Under the {name}, when do patent licenses terminate?",
                        "lic", k=2, method="sparse")  # fmt: skip
        assert Path(hits[0].source).stem == stem
        assert hits[0].text.strip() == BODY.strip()  # the header is indexed, never shown
