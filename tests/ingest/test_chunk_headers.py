"""Contextual chunk headers: the document's name and heading path are indexed with each chunk
(never shown), so a question that names the document finds that document's chunks."""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import ingest_paths
from ingest.split import first_line_title, title_of
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


def test_a_documents_first_line_is_its_title_when_it_reads_as_one() -> None:
    apache = "\n   Apache License\n   Version 2.0, January 2004\n"
    assert first_line_title(apache) == "Apache License"
    assert first_line_title("Mozilla Public License Version 2.0\n=====\n\n1. Definitions") == (
        "Mozilla Public License Version 2.0"
    )
    assert first_line_title("Every employee gets 27 days of leave. Unused days expire.") == ""
    assert first_line_title("Dear customer,\nthank you") == ""
    assert first_line_title("2024\n") == ""


def test_a_question_naming_a_document_by_its_own_title_finds_its_chunks(
    services: Services, tmp_path: Path
) -> None:
    """``MPL-2.0.txt`` never says "Mozilla" in its name, and its definitions lie chunks after its
    first line; every chunk of it is indexed under that line."""
    docs = tmp_path / "licences"
    docs.mkdir()
    filler = "\n\n".join(f"Section {i} says nothing about works of any size." for i in range(60))
    body = '"Larger Work" means a work that combines Covered Software with other material.\n'
    (docs / "MPL-2.0.txt").write_text(f"Mozilla Public License Version 2.0\n\n{filler}\n\n{body}")
    (docs / "EPL-2.0.txt").write_text(f"Eclipse Public License - v 2.0\n\n{filler}\n\n{body}")
    assert ingest_paths(services, [docs], collection="lic").failed == 0
    for name, stem in (("Mozilla Public License", "MPL-2.0"), ("Eclipse license", "EPL-2.0")):
        hits = retrieve(services, f"In the {name}, what is a Larger Work?", "lic", k=2,
                        method="sparse")  # fmt: skip
        assert Path(hits[0].source).stem == stem
        assert "Larger Work" in hits[0].text and "Public License" not in hits[0].text
