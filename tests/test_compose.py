"""docker-compose.yml and the Dockerfile agree with the settings and with each other."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from overlay.knobs import FLAT
from overlay.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _api_env() -> dict[str, str]:
    env = _compose()["services"]["api"]["environment"]
    return {k: re.sub(r"\$\{[A-Z_]+:-(.*)\}", r"\1", str(v)) for k, v in env.items()}


def _is_setting(var: str) -> bool:
    """``OVERLAY_X`` names a top-level setting or a flat name of earlier releases, or
    ``OVERLAY_GROUP__X`` a nested one."""
    name = var.removeprefix("OVERLAY_").lower()
    group, _, field = name.partition("__")
    if field:
        sub = Settings.model_fields.get(group)
        return sub is not None and field in getattr(sub.annotation, "model_fields", {})
    return name in Settings.model_fields or name in FLAT


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
    for name, value in env.items():
        assert name.startswith("OVERLAY_") and _is_setting(name), name
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
        assert _is_setting(name), name
    assert env["OVERLAY_PORT"] == "8000" and env["OVERLAY_HOST"] == "0.0.0.0"
    assert env["OVERLAY_DATA_DIR"] == _api_env()["OVERLAY_DATA_DIR"]
    assert 'CMD ["overlay", "serve"]' in text
    assert "HF_HUB_OFFLINE=1" in text


def _cluster_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())


def test_cluster_compose_has_a_cluster_two_api_replicas_and_a_proxy() -> None:
    services = _cluster_compose()["services"]
    nodes = sorted(n for n in services if re.fullmatch(r"redis-\d", n))
    assert nodes == [f"redis-{i}" for i in range(1, 7)]
    for node in nodes:
        cmd = services[node]["command"]
        assert cmd[cmd.index("--cluster-enabled") + 1] == "yes", node
        assert services[node]["healthcheck"]["test"] and services[node]["volumes"], node
    init = " ".join(services["redis-cluster-init"]["command"])
    assert all(n in init for n in nodes) and "--cluster-replicas 1" in init  # 3 masters
    assert set(services["redis-cluster-init"]["depends_on"]) == set(nodes)
    apis = [n for n in services if n.startswith("api-")]
    assert apis == ["api-1", "api-2"]
    conf = _cluster_compose()["configs"]["proxy-conf"]["content"]
    for api in apis:
        deps = services[api]["depends_on"]
        assert deps["redis-cluster-init"]["condition"] == "service_completed_successfully"
        assert f"server {api}:8000" in conf
        assert set(services["proxy"]["depends_on"]) == set(apis)
    assert services["proxy"]["ports"] == ["8000:8000"]
    assert set(_cluster_compose()["volumes"]) >= {
        v.split(":")[0] for s in services.values() for v in s.get("volumes", [])
    }


def test_cluster_api_environment_is_settings_with_a_cluster_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _cluster_compose()["services"]
    envs = [services[n]["environment"] for n in ("api-1", "api-2")]
    assert envs[0] == envs[1]
    for name, value in envs[0].items():
        assert name.startswith("OVERLAY_") and _is_setting(name), name
        monkeypatch.setenv(name, re.sub(r"\$\{[A-Z_]+:-(.*)\}", r"\1", str(value)))
    settings = Settings()
    assert settings.redis_cluster is True
    seed = urlparse(settings.redis_url or "")
    assert seed.hostname in services and seed.port == 6379
    chroma = urlparse(settings.chroma_url or "")
    assert (chroma.hostname, chroma.port) == ("chroma", 8000)
    assert "OVERLAY_REDIS_CLUSTER" not in _api_env()  # the single-node default is untouched
