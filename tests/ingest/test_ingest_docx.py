"""Word documents: the body as Markdown (headings, paragraphs, lists, tables), through the CLI's
pipeline and the HTTP upload alike; a bad .docx fails alone with a clear reason."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import ingest.docx as docx
from ingest.docx import docx_markdown
from ingest.pipeline import ingest_paths
from memory.errors import InvalidInput, TooLarge
from overlay.services import Services
from overlay.turn import retrieve
from tests.apiserver import make_app
from tests.ingest_state import store_state

NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def para(text: str, style: str = "", numbered: bool = False) -> str:
    props = f'<w:pStyle w:val="{style}"/>' if style else ""
    props += '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>' if numbered else ""
    runs = "".join(f'<w:r><w:t xml:space="preserve">{t}</w:t></w:r>' for t in text.split("|"))
    return f"<w:p><w:pPr>{props}</w:pPr>{runs}</w:p>"


def table(rows: list[list[str]]) -> str:
    cells = "".join(
        "<w:tr>" + "".join(f"<w:tc>{para(c)}</w:tc>" for c in row) + "</w:tr>" for row in rows
    )
    return f"<w:tbl>{cells}</w:tbl>"


def document(body: str, prolog: str = "") -> bytes:
    """A .docx as Word writes its minimum: content types, the package relation, the body."""
    xml = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
        f'<w:document xmlns:w="{NS}"><w:body>{body}<w:sectPr/></w:body></w:document>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/document.xml", xml)
    return out.getvalue()


HANDBOOK = document(
    para("Employee handbook", "Title")
    + para("Leave", "Heading1")
    + para("Every employee receives |27 days| of paid annual leave.")
    + para("Parental leave", "Heading2")
    + para("Parents may take 20 weeks.")
    + para("Ask your manager first.", numbered=True)
    + para("File the form in the portal.", numbered=True)
    + table([["Office", "Desk"], ["Bergen", "B-112"]])
)


def test_the_body_reads_as_markdown_in_order() -> None:
    assert docx_markdown(HANDBOOK) == (
        "# Employee handbook\n\n## Leave\n\n"
        "Every employee receives 27 days of paid annual leave.\n\n### Parental leave\n\n"
        "Parents may take 20 weeks.\n\n- Ask your manager first.\n\n"
        "- File the form in the portal.\n\nOffice | Desk\nBergen | B-112"
    )


def test_a_docx_is_ingested_with_its_heading_path(services: Services, tmp_path: Path) -> None:
    (tmp_path / "handbook.docx").write_bytes(HANDBOOK)
    report = ingest_paths(services, [tmp_path], collection="word")
    assert report.failed == 0 and report.results[0].status == "new", report.results
    hits = retrieve(services, "How many days of paid annual leave?", "word", k=1, method="sparse")
    assert "27 days of paid annual leave" in hits[0].text
    assert hits[0].metadata["headings"].startswith("Employee handbook")
    store_state(services, "word").assert_consistent()


BAD = {
    "notzip.docx": (b"PK\x03\x04 this is not really a zip archive", "not a zip archive"),
    "empty.docx": (b"", "not a zip archive"),
    "noxml.docx": (None, "no word/document.xml"),
    "broken.docx": (document("<w:p><w:r><w:t>cut</w:t></w:r>")[:-1], ""),
    "badxml.docx": (None, "does not parse"),
    "dtd.docx": (
        document(para("x"), '<!DOCTYPE d [<!ENTITY a "aaaaaaaa">]>'),
        "entity declarations are not read",
    ),
}


def zipped(part: str, xml: str) -> bytes:
    """A zip archive of one part."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(part, xml)
    return out.getvalue()


def _bad_files(tmp_path: Path) -> None:
    built = {
        "noxml.docx": zipped("word/other.xml", "<x/>"),
        "badxml.docx": zipped("word/document.xml", "<w:document><w:body><w:p></w:body>"),
    }
    for name, (data, _) in BAD.items():
        data = built.get(name, data)
        assert data is not None
        (tmp_path / name).write_bytes(data)


def test_bad_docx_files_fail_one_by_one(services: Services, tmp_path: Path) -> None:
    _bad_files(tmp_path)
    (tmp_path / "good.docx").write_bytes(HANDBOOK)
    report = ingest_paths(services, [tmp_path], collection="badword")
    by = {Path(r.source).name: r for r in report.results}
    assert by["good.docx"].status == "new"
    for name, (_, reason) in BAD.items():
        assert by[name].status == "failed", (name, by[name])
        assert reason in by[name].reason, (name, by[name].reason)
        assert "/" not in by[name].reason.replace("word/document.xml", "")  # no paths
    store_state(services, "badword").assert_consistent()


def test_a_zip_bomb_is_refused_after_reading_at_most_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = document(para("a" * 200_000))  # deflates to a few hundred bytes
    assert len(bomb) < 4096
    monkeypatch.setattr(docx, "MAX_XML", 64 * 1024)
    monkeypatch.setattr(docx, "_FEED", 8 * 1024)
    with pytest.raises(TooLarge):
        docx_markdown(bomb)
    # a central directory that understates the size is caught while decompressing
    forged = bytearray(bomb)
    entry = forged.rfind(b"word/document.xml") - 46  # its central directory record
    assert forged[entry : entry + 4] == b"PK\x01\x02"
    forged[entry + 24 : entry + 28] = (1000).to_bytes(4, "little")  # uncompressed size
    with pytest.raises((TooLarge, InvalidInput)):
        docx_markdown(bytes(forged))


def test_a_bad_docx_upload_is_a_clear_400(services: Services) -> None:
    with TestClient(make_app(services)) as client:
        files = {"file": ("h.docx", b"not a zip at all", "application/octet-stream")}
        r = client.post("/v1/documents", files=files)
        assert r.status_code == 400, r.text
        assert "not a zip archive" in r.json()["error"]["message"]
        files = {"file": ("h.docx", HANDBOOK, "application/octet-stream")}
        r = client.post("/v1/documents", files=files, params={"collection": "upword"})
        assert r.status_code == 200, r.text
