"""Retrieval end to end: dense, sparse and hybrid over the bundled samples, and the CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.pipeline import ingest_paths
from memory.errors import CollectionNotFound, InvalidInput
from overlay.turn import retrieve

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "docs"


@pytest.fixture
def samples(real_services):
    report = ingest_paths(real_services, [EXAMPLES], collection="samples", chunk_size=96)
    assert report.failed == 0 and report.chunks_written >= 6
    return real_services


@pytest.mark.parametrize("method", ["dense", "sparse", "hybrid"])
def test_each_method_finds_the_answer(samples, method: str) -> None:
    hits = retrieve(
        samples,
        "How many days of paid annual leave do employees get?",
        "samples",
        k=3,
        method=method,
    )
    assert hits and "27 days of paid annual leave" in hits[0].text
    assert hits[0].source.endswith("handbook.md") and hits[0].kind == "chunk"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    founder = retrieve(samples, "Who founded Halvorsen Instruments?", "samples", k=3, method=method)
    assert any("Ingrid Halvorsen" in h.text for h in founder)


def test_hybrid_fuses_both_rankings_with_provenance(samples) -> None:
    hits = retrieve(samples, "warranty on batteries", "samples", k=5, method="hybrid")
    top = hits[0]
    assert "warranty" in top.text.lower()
    assert top.metadata["dense_rank"] >= 1 and top.metadata["sparse_rank"] >= 1
    s = samples.settings
    expected = s.retrieve.dense_weight / (
        s.retrieve.rrf_k + top.metadata["dense_rank"]
    ) + s.retrieve.sparse_weight / (s.retrieve.rrf_k + top.metadata["sparse_rank"])
    assert top.score == pytest.approx(expected)
    assert len({h.id for h in hits}) == len(hits)


def test_bad_requests_are_invalid_input(services) -> None:
    for kwargs in ({"query": "  "}, {"query": "x", "k": 0}, {"query": "x", "method": "magic"}):
        with pytest.raises(InvalidInput):
            retrieve(services, collection="nothing", **kwargs)
    for method in ("sparse", "hybrid", "dense"):  # a collection never ingested is unknown
        with pytest.raises(CollectionNotFound, match="this tenant has: default"):
            retrieve(services, "anything", "empty-coll", method=method)
    assert services.collections() == ["default"]  # and asking did not create it
    assert retrieve(services, "anything", method="hybrid") == []  # the default: empty


def test_cli_ingest_sources_retrieve_remove(data_dir: Path, tmp_path: Path) -> None:
    from overlay.cli import _register, app

    _register()
    coll = "cli" + uuid.uuid4().hex[:8]
    (tmp_path / "good.md").write_text("# Desk\n\nThe equipment desk is in room B-112.\n")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 not really")
    run = CliRunner().invoke
    base = ["--data-dir", str(data_dir)]
    res = run(app, [*base, "ingest", str(tmp_path), "-c", coll, "--json"])
    assert res.exit_code == 1, res.output  # one source failed
    summary = json.loads(res.stdout)
    assert summary["sources"]["new"] == 1 and summary["sources"]["failed"] == 1
    res = run(app, [*base, "retrieve", "Where is the equipment desk?", "-c", coll, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["query"] == "Where is the equipment desk?"
    assert set(out["results"][0]) == {"id", "source", "text", "score", "kind"}
    assert "B-112" in out["results"][0]["text"]
    res = run(app, [*base, "sources", "-c", coll, "--json"])
    assert [Path(s["source"]).name for s in json.loads(res.stdout)["sources"]] == ["good.md"]
    res = run(app, [*base, "sources", "remove", str(tmp_path / "good.md"), "-c", coll, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["removed"]["chunks"] == 1
    res = run(app, [*base, "sources", "-c", coll, "--json"])
    assert json.loads(res.stdout)["sources"] == []


def test_a_question_scoped_to_a_document_finds_the_passage_not_the_name(
    real_services, tmp_path: Path
) -> None:
    """ "In the Mozilla Public License, what is Executable Form?": the chunks that repeat the
    licence's name must not outrank the one that defines the term."""
    docs = tmp_path / "licences"
    docs.mkdir()
    named = [
        "This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0. "
        f"If a copy of the Mozilla Public License was not distributed with file {i}, you can "
        "obtain one at the Mozilla website." for i in range(6)
    ]  # fmt: skip
    definition = '1.6. "Executable Form" means any form of the work other than Source Code Form.'
    (docs / "MPL-2.0.txt").write_text("\n\n".join([*named[:3], definition, *named[3:]]))
    (docs / "GPL-3.txt").write_text(
        "The GNU General Public License is a free, copyleft license for software. Executable "
        "Form is not a term it uses; it speaks of object code."
    )
    report = ingest_paths(real_services, [docs], collection="scoped", chunk_size=40)
    assert report.failed == 0 and report.chunks_written >= 8
    hits = retrieve(real_services, "In the Mozilla Public License, what is Executable Form?",
                    "scoped", k=3, method="hybrid")  # fmt: skip
    assert hits[0].text == definition
    plain = retrieve(real_services, "What is Executable Form?", "scoped", k=3, method="hybrid")
    assert plain[0].text == definition  # no scope: one search, as before
