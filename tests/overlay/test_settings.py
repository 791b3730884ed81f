"""Settings come from defaults, OVERLAY_* variables and a YAML file, validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from memory.errors import InvalidInput
from overlay.settings import Settings, load_settings


def test_env_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OVERLAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OVERLAY_CHUNK_SIZE", "123")
    monkeypatch.setenv("OVERLAY_API_KEYS", '{"k1": "acme"}')
    s = load_settings()
    assert s.data_dir == tmp_path.resolve() and s.ingest.chunk_size == 123
    assert s.api_keys == {"k1": "acme"}
    assert s.adapters_path == tmp_path.resolve() / "adapters"


def test_yaml_file_below_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "overlay.yaml"
    cfg.write_text("chunk_size: 77\ntop_k: 4\n")
    monkeypatch.setenv("OVERLAY_TOP_K", "9")
    s = load_settings(cfg)
    assert s.ingest.chunk_size == 77 and s.retrieve.top_k == 9


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(InvalidInput, match="mapping"):
        load_settings(bad)
    with pytest.raises(ValidationError):
        load_settings(chunk_size=-5)


def test_knobs_nest_by_concern_and_flat_names_still_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OVERLAY_CHOOSE__TOP_M", "16")
    monkeypatch.setenv("OVERLAY_MEMORY_K", "7")  # the flat name of earlier releases
    monkeypatch.setenv("OVERLAY_ANSWER__MODE", "choose")
    monkeypatch.setenv("OVERLAY_ANSWER_MODE", "generate")  # both set: the nested name wins
    cfg = tmp_path / "overlay.yaml"
    cfg.write_text("retrieve:\n  rrf_k: 30\nfuse_rank_weight: 0.2\nmemory:\n  k: 2\n")
    s = load_settings(cfg)
    assert s.choose.top_m == 16 and s.memory.k == 7  # env above the file, flat or nested
    assert s.answer.mode == "choose"
    assert s.retrieve.rrf_k == 30 and s.choose.rank_weight == 0.2
    assert Settings(choose_top_n=5).choose.top_n == 5  # flat keyword arguments too


def test_updated_copies_validate() -> None:
    s = Settings(chunk_size=100)
    t = s.updated(max_new_tokens=24, choose={"threshold": 0.6})
    assert (t.answer.max_new_tokens, t.choose.threshold, t.ingest.chunk_size) == (24, 0.6, 100)
    assert s.answer.max_new_tokens == 96  # the original is untouched
    with pytest.raises(ValidationError):
        s.updated(choose_top_m=0)
    with pytest.raises(ValueError, match="unknown settings: warm_views"):
        s.updated(warm_views=0)  # a group's name without its group: never silently ignored
    assert s.updated(api={"warm_views": 0}).api.warm_views == 0
