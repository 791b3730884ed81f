"""Settings come from defaults, OVERLAY_* variables and a YAML file, validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from memory.errors import InvalidInput
from overlay.settings import load_settings


def test_env_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OVERLAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OVERLAY_CHUNK_SIZE", "123")
    monkeypatch.setenv("OVERLAY_API_KEYS", '{"k1": "acme"}')
    s = load_settings()
    assert s.data_dir == tmp_path.resolve() and s.chunk_size == 123
    assert s.api_keys == {"k1": "acme"}
    assert s.adapters_path == tmp_path.resolve() / "adapters"


def test_yaml_file_below_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "overlay.yaml"
    cfg.write_text("chunk_size: 77\ntop_k: 4\n")
    monkeypatch.setenv("OVERLAY_TOP_K", "9")
    s = load_settings(cfg)
    assert s.chunk_size == 77 and s.top_k == 9


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(InvalidInput, match="mapping"):
        load_settings(bad)
    with pytest.raises(ValidationError):
        load_settings(chunk_size=-5)
