"""docker-compose.yml and the Dockerfile agree with the settings and with each other."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from overlay.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _api_env() -> dict[str, str]:
    env = _compose()["services"]["api"]["environment"]
    return {k: re.sub(r"\$\{[A-Z_]+:-(.*)\}", r"\1", str(v)) for k, v in env.items()}


def test_compose_runs_redis_chroma_and_the_api_with_health_checks() -> None:
    services = _compose()["services"]
    assert set(services) == {"redis", "chroma", "api"}
    for name, svc in services.items():
        assert svc["healthcheck"]["test"], name
        assert svc["volumes"], name  # every service keeps its state on a volume
    deps = services["api"]["depends_on"]
    assert {d: c["condition"] for d, c in deps.items()} == {
        "redis": "service_healthy",
        "chroma": "service_healthy",
    }
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert set(_compose()["volumes"]) >= {
        v.split(":")[0] for s in services.values() for v in s["volumes"]
    }


def test_api_environment_names_are_settings_and_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _api_env()
    fields = set(Settings.model_fields)
    for name, value in env.items():
        assert name.startswith("OVERLAY_") and name[8:].lower() in fields, name
        monkeypatch.setenv(name, value)
    settings = Settings()  # parsed exactly as the container's environment would be
    assert settings.api_keys == {}
    redis = urlparse(settings.redis_url or "")
    chroma = urlparse(settings.chroma_url or "")
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    assert (chroma.scheme, chroma.hostname, chroma.port) == ("http", "chroma", 8000)
    published = _compose()["services"]["api"]["ports"][0]
    assert published.split(":")[1] == str(settings.port)
    assert str(settings.data_dir) in _compose()["services"]["api"]["volumes"][0]


def test_dockerfile_serves_with_the_same_settings() -> None:
    text = (ROOT / "Dockerfile").read_text()
    env = dict(re.findall(r"(OVERLAY_[A-Z_]+)=(\S+)", text))
    for name in env:
        assert name[8:].lower() in Settings.model_fields, name
    assert env["OVERLAY_PORT"] == "8000" and env["OVERLAY_HOST"] == "0.0.0.0"
    assert env["OVERLAY_DATA_DIR"] == _api_env()["OVERLAY_DATA_DIR"]
    assert 'CMD ["overlay", "serve"]' in text
    assert "HF_HUB_OFFLINE=1" in text
