"""``overlay chat`` reads ahead while the user types (``commands.chat.ReadAhead``): the
collection's views are kept before the first question, and nothing is read while a turn runs."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ingest.pipeline import ingest_text
from overlay.choosing.view_cache import VIEWS
from overlay.commands.chat import ReadAhead
from overlay.services import Services

TEXTS = [
    "employees get 27 days of annual paid leave .",
    "the company was founded in 1987 .",
    "support is a product of the company .",
]


@pytest.fixture
def svc(services: Services, tiny_model: Any) -> Services:
    s = Services(services.settings, services.redis, services.chroma, services.embedder,
                 tenant=services.tenant)  # fmt: skip
    s.use_model(tiny_model)
    for i, text in enumerate(TEXTS):
        ingest_text(s, f"doc{i}.txt", text, collection="typing")
    return s


def test_views_are_read_while_the_user_types(svc: Services) -> None:
    VIEWS.clear()
    ahead = ReadAhead(svc, "typing")
    assert ahead.done.wait(60)
    ahead.close()
    assert ahead.read[0] == len(TEXTS) + 1  # each chunk's one window and the baseline
    assert VIEWS.stats()["warmed"] == len(TEXTS) + 1


def test_nothing_is_read_while_a_turn_runs_and_stop_ends_it(svc: Services) -> None:
    VIEWS.clear()
    turn = threading.Event()
    turn.set()  # a turn runs from the start
    ahead = ReadAhead(svc, "typing", busy=turn)
    assert not ahead.done.wait(1.0)  # waiting for the turn to end
    ahead.close()
    assert ahead.done.is_set() and ahead.read == (0, 0)
    assert VIEWS.stats()["warmed"] == 0
