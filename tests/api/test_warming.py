"""The server reads ingested documents' views (and, on the real model, reader passages) while
idle, so the first question after an ingest finds every candidate's prompt kept
(``api.warm_views``)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from overlay.choosing.view_cache import VIEWS
from overlay.model.prefix import PASSAGES
from overlay.services import Services
from tests.apiserver import live_server, make_app

DOCS_DIR = Path(__file__).resolve().parents[2] / "examples" / "docs"
DOCS = {
    "leave.txt": "employees get 27 days of annual paid leave .",
    "founded.txt": "the company was founded in 1987 .",
    "support.txt": "support is a product of the company .",
}


def _settle(app: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not app.state.warmer.done.wait(0.05):
        assert time.monotonic() < deadline, "warming did not finish"


def test_the_first_question_after_an_ingest_reads_kept_views(
    services: Services, tiny_model: Any
) -> None:
    VIEWS.clear()
    app = make_app(services, model=tiny_model, preload_model=True, max_new_tokens=4)
    with live_server(app) as url:
        for source, text in DOCS.items():
            r = httpx.post(f"{url}/v1/documents", json={"source": source, "text": text})
            assert r.status_code == 200, r.text
        _settle(app)
        assert "overlay_view_warming 0.0" in httpx.get(f"{url}/metrics").text
        warmed = VIEWS.stats()
        assert warmed["warmed"] == len(DOCS) + 1  # the baseline prompt too
        assert warmed["lookups"] == 0  # read ahead, not asked
        r = httpx.post(f"{url}/v1/chat", json={"message": "how many days of paid leave"},
                       timeout=60)  # fmt: skip
        assert r.status_code == 200, r.text
        asked = VIEWS.stats()
        assert asked["lookups"] >= len(DOCS) + 1
        assert asked["hits"] == asked["lookups"]  # no prompt read twice
        shown = httpx.get(f"{url}/metrics").text
        assert f'overlay_view_cache{{stat="warmed"}} {float(len(DOCS) + 1)}' in shown


def test_warming_off_reads_nothing_ahead(services: Services, tiny_model: Any) -> None:
    VIEWS.clear()
    app = make_app(services, model=tiny_model, preload_model=True, api={"warm_views": 0})
    assert app.state.settings.api.preload_model and not app.state.settings.api.warm_views
    with live_server(app) as url:
        r = httpx.post(f"{url}/v1/documents", json={"source": "a.txt", "text": DOCS["leave.txt"]})
        assert r.status_code == 200, r.text
        _settle(app)
    assert VIEWS.stats()["warmed"] == 0


@pytest.mark.slow
def test_a_real_server_loads_its_reader_and_reads_passages_ahead(
    base_services: Services, minilm: Any, real_model: Any
) -> None:
    PASSAGES.clear()
    svc = Services(base_services.settings, base_services.redis, base_services.chroma, minilm,
                   tenant="w" + uuid.uuid4().hex[:12])  # fmt: skip
    app = make_app(svc, model=real_model, preload_model=True)
    reader = app.state.settings.answer.reader_adapter
    with live_server(app) as url:
        assert reader in app.state.services.adapters.loaded  # before any question
        text = (DOCS_DIR / "handbook.md").read_text()
        r = httpx.post(f"{url}/v1/documents", json={"source": "handbook.md", "text": text})
        assert r.status_code == 200, r.text
        _settle(app)
        kept = PASSAGES.stats.entries
        assert kept > 3 and PASSAGES.stats.lookups == 0
        shown = httpx.get(f"{url}/metrics").text
        assert f'overlay_passage_cache{{stat="entries"}} {float(kept)}' in shown
        question = "How many days of paid annual leave do employees get?"
        r = httpx.post(f"{url}/v1/chat", json={"message": question}, timeout=120)
        assert r.status_code == 200, r.text
        assert "27" in r.json()["answer"]
        assert PASSAGES.stats.lookups > 0 and PASSAGES.stats.hits == PASSAGES.stats.lookups
    PASSAGES.clear()
