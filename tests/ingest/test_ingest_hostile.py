"""Hostile files (issue 21): parsing bombs hit the budget, a FIFO is never opened, binary
noise behind a page of text is refused, UTF-16/32 text with a BOM is read."""

from __future__ import annotations

import io
import os
import threading
import time
import zlib
from pathlib import Path

import httpx
import pytest

from ingest.formats import html_text, pdf_pages
from ingest.loaders import Skip, load
from ingest.pipeline import ingest_paths
from memory.errors import BudgetExceeded, TooLarge
from overlay.choosing.views import split_sentences
from tests.apiserver import live_server, make_app


def pdf_bomb(pages: int = 20, stream_mb: float = 2.0) -> bytes:
    """A tiny PDF whose ``pages`` all point at one deflated content stream of ``stream_mb``."""
    op = b"BT /F1 12 Tf 10 10 Td (A) Tj ET\n"
    body = zlib.compress(op * int(stream_mb * 2**20 / len(op)), 9)
    font = 4 + pages
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream",
    ]
    page = (
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
        f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
    )
    objs += [page.encode()] * pages
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for n, obj in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    out.writelines(b"%010d 00000 n \n" % o for o in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objs) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def test_a_pdf_bomb_upload_hits_its_budget_quickly(services) -> None:
    bomb = pdf_bomb()
    assert len(bomb) < 16_384
    t0 = time.monotonic()  # one page's parse on this machine, now: the unit of overshoot
    pdf_pages(pdf_bomb(pages=1))
    one_page = time.monotonic() - t0
    with live_server(make_app(services, ingest_budget_s=2)) as url:
        t0 = time.monotonic()
        files = {"file": ("bomb.pdf", bomb, "application/pdf")}
        r = httpx.post(f"{url}/v1/documents", files=files, timeout=120)
        took = time.monotonic() - t0
        assert r.status_code == 413, r.text
        assert r.json()["error"]["type"] == "time_budget_exceeded"
        # the budget is checked per page and per operator: past it, at most about the parse
        # of one page's stream, not 20 pages'; bounded relative to that page's parse timed
        # just now, so a loaded machine slows both sides alike
        assert took < 2 + 3 * max(one_page, 1.0) + 3, (took, one_page)


def test_a_client_that_goes_away_stops_the_parse_and_frees_the_collection(services) -> None:
    with live_server(make_app(services, ingest_budget_s=300)) as url:
        files = {"file": ("bomb.pdf", pdf_bomb(), "application/pdf")}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/v1/documents", files=files, timeout=1.5)
        t0 = time.monotonic()
        doc = {"source": "after.txt", "text": "the barometer reads 1013 hPa"}
        r = httpx.post(f"{url}/v1/documents", json=doc, timeout=60)
        while r.status_code == 429 and time.monotonic() - t0 < 40:
            r = httpx.post(f"{url}/v1/documents", json=doc, timeout=60)
        # the abandoned parse stopped within a page (it would hold the lock for ~80 s)
        assert r.status_code == 200, r.text
        assert time.monotonic() - t0 < 25


def test_pdf_pages_checks_the_budget_inside_a_page() -> None:
    calls = [0]

    def check() -> None:
        calls[0] += 1
        if calls[0] > 3:
            raise BudgetExceeded("over")

    t0 = time.monotonic()
    with pytest.raises(BudgetExceeded):
        pdf_pages(pdf_bomb(pages=2, stream_mb=0.5), check)
    assert calls[0] == 4 and time.monotonic() - t0 < 30  # stopped inside the first page


def test_a_pdf_over_the_page_cap_is_refused_before_parsing() -> None:
    with pytest.raises(TooLarge, match="20 pages; the limit is 5"):
        pdf_pages(pdf_bomb(), max_pages=5)


def test_html_text_checks_the_budget_per_element() -> None:
    html = "<div>" + "<b>x</b>" * 20_000 + "</div>"
    calls = [0]

    def check() -> None:
        calls[0] += 1
        if calls[0] > 10:
            raise BudgetExceeded("over")

    with pytest.raises(BudgetExceeded):
        html_text(html, check)
    assert html_text("<head><title>t</title></head><p>a<!-- c -->b</p><script>x</script>") == (
        "ab"  # inline text runs on, as a browser shows it
    )
    # a new block starts a new paragraph: a heading is never glued to the text under it
    assert html_text("<h2>Support</h2><p>Call <b>us</b>.<br>Or write.</p>") == (
        "Support\n\nCall us.\nOr write."
    )
    # navigation and a heading's permalink mark are no part of the page's text
    page = (
        '<nav><a href="/">Home</a> | <a href="/docs">Docs</a></nav><div role="navigation">'
        'Next »</div><h1>Abstract<a class="headerlink" href="#abstract">¶</a></h1><p>See '
        '<a href="#two">section 2</a>.</p>'
    )
    assert html_text(page) == "Abstract\n\nSee section 2."


def test_html_preformatted_text_is_a_fenced_block_a_console_session_its_commands() -> None:
    html = (
        "<h1>Build</h1><p>Compile it in release mode:</p><div class='highlight'><pre><code "
        "class='language-console'>"
        "<span>$</span> cargo build --release\n   Compiling hello v0.1.0 (file:///p/hello)\n"
        "</code></pre></div><p>Done.</p>"
    )
    text = html_text(html)
    assert "```console\n$ cargo build --release\nCompiling hello v0.1.0 (file:///p/hello)" in text
    assert html_text("<pre>x = 1</pre>") == "```text\nx = 1\n```"  # a bare fence closes
    assert split_sentences(text) == [
        "Build",
        "Compile it in release mode:",
        "cargo build --release",  # no prompt, and not one sentence with its output
        "Compiling hello v0.1.0 (file:///p/hello)",
        "Done.",
    ]


def test_a_fifo_in_an_ingest_folder_is_skipped_unopened(services, tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("# Notes\n\nThe barometer reads 1013 hPa.\n")
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    done: list[object] = []
    worker = threading.Thread(
        target=lambda: done.append(ingest_paths(services, [tmp_path], collection="ff")),
        daemon=True,
    )
    worker.start()
    worker.join(60)
    if worker.is_alive():  # unblock the reader, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("ingest blocked on a FIFO")
    report = done[0]
    by = {Path(r.source).name: r for r in report.results}  # type: ignore[attr-defined]
    assert by["real.md"].status == "new"
    assert by["pipe.md"].status == "skipped" and "FIFO" in by["pipe.md"].reason


def test_a_device_named_on_the_command_line_is_skipped(services, tmp_path: Path) -> None:
    link = tmp_path / "null.txt"
    link.symlink_to("/dev/null")
    report = ingest_paths(services, [link], collection="dv")
    assert report.results[0].status == "skipped"
    assert "character device" in report.results[0].reason


def test_noise_behind_a_page_of_text_is_binary() -> None:
    text = ("The barometer in room 4 reads 1013 hPa today. " * 200).encode()[:8192]
    noise = os.urandom(2 * 2**20)
    with pytest.raises(Skip, match="binary"):
        load(text + noise, "notes.md")
    with pytest.raises(Skip, match="binary"):  # noise in the middle only
        load(text * 4 + noise[:16384] + text * 4, "notes.md")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_text_with_a_bom_is_read(codec: str) -> None:
    text = "Der Luftdruck in Zürich beträgt 1013 hPa. 気圧は正常です。\n" * 50
    data = "\ufeff".encode(codec) + text.encode(codec)
    kind, sections = load(data, "notes.txt")
    assert kind == "text" and sections[0].text == text
