"""Portable and editable session memory on the real stores: export → import → export is
byte-identical (on a LoCoMo conversation when the shared data is present), single turns and
facts deleted or corrected, lookups within a time window, and the same over HTTP per tenant."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from memory.errors import Conflict, SessionNotFound
from overlay import remembering
from overlay.services import Services
from tests.apiserver import make_app

ROOT = Path(__file__).resolve().parents[3]
LOCOMO = next((p / "shared" / "data" / "locomo-dev" / "49.json"
               for p in (ROOT.parent, ROOT.parent.parent)
               if (p / "shared" / "data" / "locomo-dev" / "49.json").exists()), None)  # fmt: skip
DAY = 86400.0
T0 = datetime(2023, 5, 8, 12, tzinfo=UTC).timestamp()


def _sid() -> str:
    return "p" + uuid.uuid4().hex[:10]


def _say(svc: Services, session: str, *texts: str, start: float = T0) -> None:
    turns = [{"role": "user", "content": t, "ts": start + i * DAY} for i, t in enumerate(texts)]
    remembering.append_turns(svc, session, turns)


def _round_trip(svc: Services, session: str) -> None:
    first = remembering.export_session(svc, session)
    copy = _sid()
    remembering.import_session(svc, copy, first)
    assert "\n".join(remembering.export_session(svc, copy)) == "\n".join(first)
    with pytest.raises(Conflict):
        remembering.import_session(svc, copy, first)


def test_export_import_export_is_byte_identical(services: Services) -> None:
    s = _sid()
    _say(services, s, "My name is Alex.", "I went to Oslo yesterday.", "My name is Sam.")
    remembering.delete_turn(services, s, 1)  # a gap in the ids survives the trip
    _round_trip(services, s)
    lines = [json.loads(x) for x in remembering.export_session(services, s)]
    assert [x["kind"] for x in lines] == ["session", "turn", "turn", "fact"]
    assert lines[3]["value"] == "Sam" and lines[3]["history"][0]["value"] == "Alex"


@pytest.mark.skipif(LOCOMO is None, reason="LoCoMo dev data (../shared/data) not present")
def test_round_trip_of_a_locomo_conversation(services: Services) -> None:
    assert LOCOMO is not None
    conv = json.loads(LOCOMO.read_text())
    s, turns = _sid(), []
    for n in range(1, 6):  # five sittings keep the test quick; the format does not care
        stamp = datetime.strptime(conv[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y")
        for i, t in enumerate(conv[f"session_{n}"]):
            turns.append({"role": "user", "content": t["text"], "speaker": t["speaker"],
                          "ts": stamp.replace(tzinfo=UTC).timestamp() + 30 * i})  # fmt: skip
    remembering.append_turns(services, s, turns)
    _round_trip(services, s)
    text = "\n".join(remembering.export_session(services, s))
    assert '"speaker":"Evan"' in text and '"when":[' in text


def test_delete_a_turn_and_correct_a_fact(services: Services) -> None:
    s = _sid()
    _say(services, s, "I live in Oslo.", "The zephyrine valve is broken.", "I like tea.")
    remembering.delete_turn(services, s, 1)
    hits = remembering.memory_search(services, s, "is the zephyrine valve broken?", 5)
    assert all("zephyrine" not in h.text for h in hits)
    with pytest.raises(SessionNotFound):
        remembering.delete_turn(services, s, 1)
    fact = remembering.correct_fact(services, s, "city", "Bergen")
    assert fact.history_line() == "city: Oslo → Bergen"
    with pytest.raises(SessionNotFound):
        remembering.correct_fact(services, s, "shoe size", "42")


def test_search_within_a_time_window(services: Services) -> None:
    s = _sid()
    _say(services, s, "I bought a red kayak.", "I bought a blue kayak.", "I sold the red kayak.")
    day2 = datetime.fromtimestamp(T0 + DAY, UTC).date().isoformat()
    hits = remembering.memory_search(services, s, "kayak", 5, since=day2, until=T0 + 1.5 * DAY)
    assert [h.text for h in hits] == ["I bought a blue kayak."]
    turn = remembering.show_session(services, s)["turns"][0]
    assert turn["ts"] == T0


def test_http_export_import_edit_per_tenant(services: Services) -> None:
    a, b = "ta" + uuid.uuid4().hex[:8], "tb" + uuid.uuid4().hex[:8]
    ha, hb = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
    with TestClient(make_app(services, api_keys={"key-a": a, "key-b": b})) as client:
        turns = [{"role": "user", "content": "I live in Oslo.", "ts": T0},
                 {"role": "user", "content": "I like green tea.", "ts": T0 + DAY}]  # fmt: skip
        assert client.post("/v1/sessions/s/turns", json={"turns": turns}, headers=ha).is_success
        assert client.get("/v1/sessions/s/export", headers=hb).status_code == 404
        dump = client.get("/v1/sessions/s/export", headers=ha)
        assert dump.status_code == 200 and dump.text.count("\n") == 4
        got = client.post("/v1/sessions/s2/import", content=dump.text, headers=hb)
        assert got.json() == {"session_id": "s2", "turns": 2, "facts": 1}
        assert client.get("/v1/sessions/s2/export", headers=hb).text == dump.text
        again = client.post("/v1/sessions/s2/import", content=dump.text, headers=hb)
        assert again.status_code == 409
        assert client.post("/v1/sessions/s3/import", content="{}", headers=hb).status_code == 400
        q = {"q": "tea", "since": "2023-05-09", "until": "2023-05-10"}
        found = client.get("/v1/sessions/s/memory", params=q, headers=ha).json()["results"]
        assert [r["text"] for r in found] == ["I like green tea."]
        fixed = client.patch("/v1/sessions/s/facts/city", json={"value": "Bergen"}, headers=ha)
        assert fixed.json()["fact"]["history_line"] == "city: Oslo → Bergen"
        assert client.delete("/v1/sessions/s/facts/city", headers=ha).is_success
        assert client.delete("/v1/sessions/s/facts/city", headers=ha).status_code == 404
        assert client.delete("/v1/sessions/s/turns/1", headers=ha).json()["removed"]["id"] == 1
        assert client.delete("/v1/sessions/s/turns/1", headers=hb).status_code == 404
