"""Ingestion on real stores: idempotent, incremental, pruning, chunk provenance."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths, ingest_text, list_sources, remove_source
from ingest.split import Splitter
from memory.errors import InvalidInput, SourceNotFound
from memory.stores.sparse import SparseIndex
from overlay.services import Services
from tests.ingest_state import store_state

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"


@pytest.fixture
def services(services_both: Services) -> Services:
    """Every test here runs on the single Redis server and on the Redis Cluster."""
    return services_both


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    shutil.copytree(EXAMPLES, d)
    return d


def statuses(report) -> dict[str, str]:
    return {Path(r.source).name: r.status for r in report.results}


def test_ingest_is_idempotent_and_incremental(services, docs: Path) -> None:
    first = ingest_paths(services, [docs], collection="kb", chunk_size=60)
    assert set(statuses(first).values()) == {"new"} and first.failed == 0
    assert first.chunks_written >= 6
    state = store_state(services, "kb")
    state.assert_consistent()
    again = ingest_paths(services, [docs], collection="kb", chunk_size=60)
    assert set(statuses(again).values()) == {"unchanged"} and again.chunks_written == 0
    assert store_state(services, "kb").chroma == state.chroma

    hb = docs / "handbook.md"
    hb.write_text(hb.read_text().replace("27 days", "29 days"))
    (docs / "history.txt").unlink()
    (docs / "new.rst").write_text("Release notes\n=============\n\nVersion 2 adds a barometer.\n")
    third = ingest_paths(services, [docs], collection="kb", chunk_size=60, prune=True)
    st = statuses(third)
    assert st["handbook.md"] == "changed" and st["new.rst"] == "new"
    assert st["history.txt"] == "removed" and st["products.md"] == "unchanged"
    after = store_state(services, "kb")
    after.assert_consistent()
    assert not any("history.txt" in s for s in after.manifest)
    texts = [h.text for h in services.vectors("kb").get(ids=after.manifest[str(hb)])]
    assert any("29 days" in t for t in texts) and not any("27 days" in t for t in texts)
    # unchanged chunks of the changed file were kept, not re-embedded
    hb_result = next(r for r in third.results if r.source == str(hb))
    assert 0 < hb_result.written < hb_result.chunks


def test_identical_content_under_two_sources_is_two_sources(services, tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("The same sentence about barometers.\n")
    report = ingest_paths(services, [tmp_path], collection="dup")
    assert statuses(report) == {"a.txt": "new", "b.txt": "new"}
    infos = list_sources(services, "dup")
    assert [Path(i.source).name for i in infos] == ["a.txt", "b.txt"]
    assert [i.chunks for i in infos] == [1, 1]
    store_state(services, "dup").assert_consistent()
    removed = remove_source(services, str(tmp_path / "a.txt"), "dup")
    assert removed.chunks == 1
    state = store_state(services, "dup")
    state.assert_consistent()
    assert list(state.manifest) == [str(tmp_path / "b.txt")] and len(state.chroma) == 1
    with pytest.raises(SourceNotFound):
        remove_source(services, str(tmp_path / "a.txt"), "dup")


def test_include_exclude_and_unsupported_files(services, docs: Path) -> None:
    (docs / "sub").mkdir()
    (docs / "sub" / "deep.md").write_text("# Deep\n\nNested markdown about sensors.\n")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (docs / ".hidden.md").write_text("# hidden\n")
    only_md = ingest_paths(
        services, [docs], collection="globs", include=["*.md"], exclude=["products*"]
    )
    assert statuses(only_md) == {"handbook.md": "new", "deep.md": "new"}
    everything = ingest_paths(services, [docs], collection="globs2")
    st = statuses(everything)
    assert st["image.png"] == "skipped" and ".hidden.md" not in st
    skipped = next(r for r in everything.results if r.status == "skipped")
    assert "unsupported file type '.png'" in skipped.reason and everything.failed == 0


def test_chunks_keep_provenance(services, tmp_path: Path) -> None:
    md = "# Guide\n\nIntro text.\n\n## Setup\n\n" + "Install the sensor firmware. " * 30
    md += "\n\n## Usage\n\nRead the gauge daily.\n"
    (tmp_path / "guide.md").write_text(md)
    _pdf(tmp_path / "two.pdf", ["First page about torque.", "Second page about pressure."])
    (tmp_path / "rows.jsonl").write_text(
        '{"_id": "r1", "title": "Alpha", "text": "Alpha text."}\n{"id": 7, "content": "Seven."}\n'
        '{"other": "no text field"}\n'
    )
    report = ingest_paths(services, [tmp_path], collection="prov", chunk_size=40)
    assert report.failed == 0
    hits = services.vectors("prov").get()
    by_source: dict[str, list] = {}
    for h in hits:
        by_source.setdefault(Path(h.source).name, []).append(h)
    heads = {h.metadata.get("headings") for h in by_source["guide.md"]}
    assert {"Guide", "Guide > Setup", "Guide > Usage"} <= heads
    for h in by_source["guide.md"]:
        assert md[h.metadata["start"] : h.metadata["end"]] == h.text
        assert h.metadata["tokens"] <= 40
    assert sorted(h.metadata["page"] for h in by_source["two.pdf"]) == [1, 2]
    assert {h.metadata["record"]: h.text for h in by_source["rows.jsonl"]} == {
        "r1": "Alpha\n\nAlpha text.",
        "7": "Seven.",
    }


def test_no_chunk_exceeds_the_real_embedders_limit(minilm) -> None:
    splitter = Splitter(minilm.count_tokens, minilm.max_tokens, 10_000, 32)
    assert splitter.size == minilm.max_tokens - 2
    from ingest.loaders import Section

    text = ("Hydrostatic pressure sensors " * 300) + "x" * 5000  # incl. one unsplittable run
    chunks = splitter.split("s", "text", [Section(text)])
    assert len(chunks) > 3
    assert max(minilm.count_tokens(c.text) for c in chunks) <= minilm.max_tokens - 2
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_ingest_text_for_uploads(services) -> None:
    r = ingest_text(
        services, "notes/meeting", "Budget approved for the Bergen lab.", collection="up"
    )
    assert r.status == "new" and r.chunks == 1
    assert (
        ingest_text(
            services, "notes/meeting", "Budget approved for the Bergen lab.", collection="up"
        ).status
        == "unchanged"
    )
    r2 = ingest_text(
        services,
        "upload-1",
        b"<html><script>evil()</script><p>Hello desk</p>",
        filename="page.html",
        collection="up",
    )
    assert r2.status == "new"
    texts = [h.text for h in services.vectors("up").get()]
    assert "Hello desk" in texts and not any("evil" in t for t in texts)
    ids = SparseIndex(services.weights, "up").search("bergen budget")
    assert len(ids) == 1
    with pytest.raises(InvalidInput):
        ingest_text(services, "x", b"\x00\x01", filename="a.exe", collection="up")
    with pytest.raises(InvalidInput):
        ingest_text(services, " ", "text", collection="up")
    store_state(services, "up").assert_consistent()


def _pdf(path: Path, pages: list[str]) -> None:
    """A small real PDF, each page's text in lines ("\\n" starts one; pypdf only)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    for text in pages:
        page = writer.add_blank_page(width=400, height=200)
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
        )
        stream = DecodedStreamObject()
        lines = " 0 -14 Td ".join(f"({line}) Tj" for line in text.split("\n"))
        stream.set_data(f"BT /F1 12 Tf 20 180 Td {lines} ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    path.write_bytes(buf.getvalue())


def test_a_pdfs_running_header_and_page_numbers_are_not_its_text(tmp_path: Path) -> None:
    from ingest.formats import pdf_pages

    body = ["Each application installs one XML file.", "The tool combines the files.",
            "Override.xml takes precedence.", "Magic rules match contents."]  # fmt: skip
    pages = ["Shared MIME-info Database\nX Desktop Group\n" + body[0] + "\n1"]
    pages += [f"Shared MIME-info Database\n{b}\n{n}" for n, b in enumerate(body[1:], 2)]
    _pdf(tmp_path / "spec.pdf", pages)
    got = [" ".join(p.split()) for p in pdf_pages((tmp_path / "spec.pdf").read_bytes())]
    assert got[0] == f"Shared MIME-info Database X Desktop Group {body[0]}"  # the title stays
    assert got[1:] == body[1:]
    manual = ["Libtasn1\nA library for ASN.1."]
    manual += [f"Chapter {c}: {t} {n}\n{b}" for n, (c, t, b) in enumerate(
        [(2, "Structures", "Types nest."), (2, "Structures", "Sets hold types."),
         (3, "Utilities", "asn1Coding writes DER."), (3, "Utilities", "asn1Decoding reads it.")],
        2)]  # fmt: skip
    _pdf(tmp_path / "manual.pdf", manual)
    got = [" ".join(p.split()) for p in pdf_pages((tmp_path / "manual.pdf").read_bytes())]
    assert got == ["Libtasn1 A library for ASN.1.", "Types nest.", "Sets hold types.",
                   "asn1Coding writes DER.", "asn1Decoding reads it."]  # fmt: skip
    from ingest.formats import without_furniture

    wrapped = ["Title\nThe rights are\ncivil", "rights.\nii", "More text.\niii"]
    assert without_furniture(wrapped) == ["Title\nThe rights are\ncivil", "rights.", "More text."]
    _pdf(tmp_path / "short.pdf", ["Shared notes\nOne.", "Shared notes\nTwo."])
    kept = [" ".join(p.split()) for p in pdf_pages((tmp_path / "short.pdf").read_bytes())]
    assert kept == ["Shared notes One.", "Shared notes Two."]  # two pages prove nothing


def test_typeset_text_is_read_as_its_letters(services, tmp_path: Path) -> None:
    """A PDF's words broken across lines are joined, ligatures and invisible breaks are undone,
    so search finds "manipulation" and "configuration file" as a user types them."""
    _pdf(
        tmp_path / "manual.pdf",
        ["The library allows the manip-\nulation of a well-\nknown structure.",
         "A well-known structure is DER. Jean-\nPaul wrote the ISO-\n8859 part."],
    )  # fmt: skip
    (tmp_path / "setup.txt").write_text(
        "Edit the conﬁguration ﬁle.\nThe con\u00adtrol panel re\u200bstarts it.\n", encoding="utf-8"
    )
    report = ingest_paths(services, [tmp_path], collection="typeset", chunk_size=60)
    assert report.failed == 0
    texts = {Path(h.source).name + str(h.metadata.get("page", "")): " ".join(h.text.split())
             for h in services.vectors("typeset").get()}  # fmt: skip
    assert "the manipulation of a well-known structure" in texts["manual.pdf1"]
    assert "Jean- Paul wrote the ISO- 8859 part" in texts["manual.pdf2"]  # a capital, a digit
    assert texts["setup.txt"] == "Edit the configuration file. The control panel restarts it."
    sparse = SparseIndex(services.weights, "typeset")
    for query in ("manipulation", "configuration file", "control panel restarts"):
        assert len(sparse.search(query)) == 1, query


def test_joined_lines_keeps_a_hyphen_the_document_writes() -> None:
    from ingest.typeset import joined_lines, plain_letters

    assert joined_lines(["a decla-\nration and a well-\nknown", "well-known fact"]) == [
        "a declaration and a well-known", "well-known fact"
    ]  # fmt: skip
    assert joined_lines(["Jean-\nPaul, ISO-\n8859, x -\ny"]) == ["Jean-\nPaul, ISO-\n8859, x -\ny"]
    assert joined_lines(["SE-\nQUENCE OF, CO-\nOP", "CO-OP"]) == ["SEQUENCE OF, CO-OP", "CO-OP"]
    assert plain_letters("ﬀ ﬁ ﬂ ﬃ ﬄ \u00ad\u200b\u2060\ufeff") == "ff fi fl ffi ffl "
    assert plain_letters("می\u200cخواهم") == "می\u200cخواهم"  # a non-joiner shapes Persian


def test_an_html_redirect_page_is_skipped_saying_where_it_points(services, tmp_path: Path) -> None:
    (tmp_path / "moved.html").write_text(
        '<html><head><meta charset="utf-8"><title>Redirecting...</title><meta '
        'http-equiv="refresh" content="0; URL=guide/linking.html"></head><body><p>Redirecting '
        'to... <a href="guide/linking.html">guide/linking.html</a>.</p></body></html>'
    )
    (tmp_path / "page.html").write_text(  # a page that refreshes itself keeps its text
        '<html><head><meta content="300;url=page.html" http-equiv="Refresh"></head><body><p>'
        + "The barometer reads the pressure of the air in hectopascal every minute. " * 6
        + "</p></body></html>"
    )
    report = ingest_paths(services, [tmp_path], collection="moved")
    st = statuses(report)
    assert st == {"moved.html": "skipped", "page.html": "new"} and report.failed == 0
    skipped = next(r for r in report.results if r.status == "skipped")
    assert skipped.reason == "a redirect page (to guide/linking.html), no text of its own"
    assert not any("Redirecting" in h.text for h in services.vectors("moved").get())
