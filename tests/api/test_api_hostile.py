"""Hostile-probe findings, second round: keyed operational endpoints, request ids, no
internals in error bodies, one limit per field."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from memory.errors import AdapterNotFound
from overlay.adapters.files import adapter_dir
from overlay.services import Services
from overlay.settings import Settings
from tests.apiserver import make_app

OPS = ["/metrics", "/docs", "/openapi.json"]
INTERNALS = re.compile(r"127\.0\.0\.1|localhost|:\d{4,5}\b|/tmp/|ov:|ov\.|Error \d+")


def _keyed(services: Services, **kw) -> tuple[TestClient, str]:
    key = "key-" + uuid.uuid4().hex
    return TestClient(make_app(services, api_keys={key: services.tenant}, **kw)), key


@pytest.mark.parametrize("path", OPS)
def test_ops_endpoints_need_a_key_in_keyed_mode(services: Services, path: str) -> None:
    client, key = _keyed(services)
    with client:
        refused = client.get(path)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["type"] == "unauthorized"
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert client.get("/healthz").status_code == 200  # probes stay open


@pytest.mark.parametrize("path", OPS)
def test_ops_endpoints_open_by_setting_or_in_local_mode(services: Services, path: str) -> None:
    client, _ = _keyed(services, open_ops_endpoints=True)
    with client:
        assert client.get(path).status_code == 200
    with TestClient(make_app(services)) as local:
        assert local.get(path).status_code == 200


def test_every_response_carries_a_request_id(services: Services) -> None:
    client, _ = _keyed(services)
    with client:
        ids = {
            client.get("/healthz").headers["x-request-id"],
            client.get("/metrics").headers["x-request-id"],  # a refusal too
            client.get("/v1/documents").headers["x-request-id"],
            client.get("/no/such/route").headers["x-request-id"],
        }
        assert len(ids) == 4 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
        mine = client.get("/healthz", headers={"X-Request-Id": "trace-42"})
        assert mine.headers["x-request-id"] == "trace-42"
        odd = client.get("/healthz", headers={"X-Request-Id": "a b\tc" * 30})
        assert odd.headers["x-request-id"] != "a b\tc" * 30


def test_store_outage_names_no_host_port_or_key(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    settings = services.settings.updated(
        **{"redis_url": "redis://127.0.0.1:1/0", "preload_model": False}
    )
    down = Services(settings, chroma=services.chroma, tenant=services.tenant)
    from api.app import create_app

    caplog.set_level("WARNING", logger="overlay.api")
    with TestClient(create_app(settings, services=down), base_url="http://localhost") as client:
        for resp in (client.get("/readyz"), client.get("/v1/documents")):
            assert resp.status_code == 503, resp.text
            assert not INTERNALS.search(resp.text), resp.text
            assert "redis" in resp.text.lower()
    rid = resp.headers["x-request-id"]  # the details are in the log, under the request's id
    logged = [r.getMessage() for r in caplog.records if rid in r.getMessage()]
    assert logged and "127.0.0.1:1" in logged[0]


def test_unknown_adapter_names_no_server_path(tmp_path: Path) -> None:
    with pytest.raises(AdapterNotFound) as nf:
        adapter_dir(tmp_path, "no-such-adapter")
    assert str(tmp_path) not in nf.value.message and "no-such-adapter" in nf.value.message
    assert str(tmp_path) in nf.value.detail  # for the server log


def test_default_settings_close_ops_endpoints() -> None:
    assert Settings().api.open_ops_endpoints is False


def test_one_source_limit_on_every_path_and_what_is_stored_can_be_removed(
    services: Services, tmp_path: Path
) -> None:
    from ingest.pipeline import ingest_paths, remove_source
    from ingest.types import MAX_SOURCE_CHARS
    from memory.errors import InvalidInput

    longest, over = "s" * MAX_SOURCE_CHARS, "s" * (MAX_SOURCE_CHARS + 1)
    with TestClient(make_app(services)) as client:
        files = {"file": ("a.txt", b"Bergen barometers.", "text/plain")}
        refused = client.post("/v1/documents", files=files, data={"source": over})
        assert refused.status_code == 400, refused.text
        assert "1024" in refused.json()["error"]["message"]
        refused = client.post("/v1/documents", json={"source": over, "text": "x"})
        assert refused.status_code == 400 and "1024" in refused.text
        assert client.delete("/v1/documents", params={"source": over}).status_code in (400, 422)
        stored = client.post("/v1/documents", files=files, data={"source": longest})
        assert stored.status_code == 200, stored.text
        listed = [d["source"] for d in client.get("/v1/documents").json()["documents"]]
        assert listed == [longest]
        gone = client.delete("/v1/documents", params={"source": longest})
        assert gone.status_code == 200, gone.text
        assert client.get("/v1/documents").json()["documents"] == []
        spec = client.get("/openapi.json").json()
        upload = spec["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
        for ctype in ("application/json", "multipart/form-data"):
            assert upload[ctype]["schema"]["properties"]["source"]["maxLength"] == MAX_SOURCE_CHARS
    deep = tmp_path
    while len(str(deep)) <= MAX_SOURCE_CHARS:
        deep = deep / ("d" * 200)
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("Bergen barometers.")
    report = ingest_paths(services, [deep])  # the CLI's path: the one limit, one clear line
    assert report.results[0].status == "failed" and "1024" in report.results[0].reason
    with pytest.raises(InvalidInput, match="1024"):
        remove_source(services, over)
