"""Data written by the previous (untagged) key layout: doctor finds it, --migrate moves it.

The old data is made by writing through today's code and renaming every key of
the tenant back to its untagged name (DUMP/RESTORE, so it works on a cluster).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.pipeline import ingest_paths
from memory.errors import SessionNotFound
from memory.tables.migrate import new_key
from overlay import remembering
from overlay.choosing.feedback import learned_boosts, record_feedback, record_turn
from overlay.cli import _register, app
from overlay.services import Services
from overlay.turn import retrieve


@pytest.fixture
def services(services_both: Services) -> Services:
    return services_both


def _old_name(key: str, ns: str) -> str:
    return key.replace("{" + ns + "}:", "").replace("{" + ns + "/", "").replace("}", "")


def _downgrade(services: Services) -> list[str]:
    """Rename every key of the tenant to the previous layout; the old names."""
    r, ns = services.redis.client, services.namespace
    old_names = []
    for key in list(r.scan_iter(match=f"{ns}:*")):
        old = _old_name(key, ns)
        assert old != key and new_key(old) == key, key
        r.restore(old, max(int(r.pttl(key)), 0), r.dump(key))
        r.delete(key)
        old_names.append(old)
    return old_names


def _doctor(services: Services, *extra: str) -> tuple[int, dict]:
    s = services.settings
    env = {"OVERLAY_DATA_DIR": str(s.data_dir)}
    if s.redis_cluster:
        env |= {"OVERLAY_REDIS_URL": str(s.redis_url), "OVERLAY_REDIS_CLUSTER": "true"}
    _register()
    result = CliRunner().invoke(app, ["doctor", "--json", "--skip-model", *extra], env=env)
    lines = result.stdout.strip().splitlines()
    migrated = json.loads(lines[0]) if extra else {}
    rows = json.loads("\n".join(lines[1:] if extra else lines))
    return result.exit_code, {**rows, **migrated}


def test_doctor_finds_old_keys_and_migrate_brings_everything_back(
    services: Services, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("The barometer falls before a storm in Bergen.")
    (tmp_path / "b.txt").write_text("Lunch is served at noon in the cafeteria.")
    ingest_paths(services, [tmp_path], collection="kb")
    remembering.append_turns(
        services, "s:1", [{"role": "user", "content": "My name is Ada. I live in Oslo."}], user="u"
    )
    remembering.teach_fact(services, "Bergen", "weather", "rainy")
    turn = record_turn(services, "storm barometer", ["c1", "c2"], ["c2"], "kb")
    record_feedback(services, turn.turn_id, helpful=True)

    def state() -> tuple:
        return (
            [h.text for h in retrieve(services, "barometer storm", "kb", k=2, method="sparse")],
            [f.value for f in remembering.session_facts(services, "s:1")],
            [h.text for h in remembering.memory_search(services, "s:1", "where does Ada live", 2)],
            [(f.object, f.weight) for f in remembering.get_taught_facts(services)],
            learned_boosts(services, "storm barometer", ["c2"]),
        )

    before = state()
    assert all(before), before
    code, rows = _doctor(services)
    assert code == 0 and rows["key layout"]["ok"], rows

    old = _downgrade(services)
    assert any(":mem:s:1:log" in k for k in old) and any(":w:bm25:kb:t:" in k for k in old)
    # the old keys are not read in place: the index is empty, the session unknown
    assert retrieve(services, "barometer storm", "kb", k=2, method="sparse") == []
    with pytest.raises(SessionNotFound):
        remembering.session_facts(services, "s:1")
    code, rows = _doctor(services)
    assert code == 1 and "overlay doctor --migrate" in rows["key layout"]["detail"]

    code, rows = _doctor(services, "--migrate")
    assert code == 0, rows
    assert rows["migrate"]["moved"] == len(old) and rows["migrate"]["conflicts"] == []
    after = state()
    assert after[:4] == before[:4]
    assert after[4]["c2"] == pytest.approx(before[4]["c2"], rel=1e-3)  # feedback decays with time
    left = services.redis.client.scan_iter(match=f"{services.namespace}:*")
    assert all("{" in k for k in left)
