"""Hostile callers of a keyless (local) server, and conversations without a session id
(issue 21: 4, 5)."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from overlay.services import Services
from tests.apiserver import live_server, make_app

EVIL = "http://evil.example"


@pytest.fixture
def local_url(services: Services):
    with live_server(make_app(services)) as url:
        yield url


def test_keyless_mode_refuses_a_cross_site_upload_and_keeps_nothing(local_url: str) -> None:
    files = {"file": ("x.txt", b"planted by another site", "text/plain")}
    r = httpx.post(f"{local_url}/v1/documents", files=files, headers={"Origin": EVIL})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["type"] == "forbidden" and "evil" not in r.text
    r = httpx.post(f"{local_url}/v1/documents", files=files, headers={"Origin": "null"})
    assert r.status_code == 403
    assert httpx.get(f"{local_url}/v1/documents").json()["documents"] == []


def test_keyless_mode_answers_only_loopback_host_names(local_url: str) -> None:
    for host in ("rebind.attacker.example", "127.evil.example", "10.0.0.7:8000"):
        r = httpx.get(f"{local_url}/v1/documents", headers={"Host": host})
        assert r.status_code == 403, (host, r.text)
    for host in ("localhost:1234", "127.0.0.1", "[::1]:80", "app.localhost"):
        assert httpx.get(f"{local_url}/healthz", headers={"Host": host}).status_code == 200


def test_the_page_and_local_origins_keep_working(local_url: str) -> None:
    page = httpx.get(f"{local_url}/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    doc = {"source": "n.txt", "text": "Gauges in Bergen."}
    for origin in (local_url, "http://localhost:3000"):
        r = httpx.post(f"{local_url}/v1/documents", json=doc, headers={"Origin": origin})
        assert r.status_code == 200, r.text


def test_with_keys_any_host_and_origin_is_judged_by_the_key(services: Services) -> None:
    app = make_app(services, api_keys={"k-1": services.tenant})
    with TestClient(app, base_url="http://api.example.com") as client:
        auth = {"Authorization": "Bearer k-1", "Origin": EVIL}
        r = client.post("/v1/documents", json={"source": "a.txt", "text": "x y"}, headers=auth)
        assert r.status_code == 200, r.text


def test_allowed_hosts_extend_the_loopback_names(services: Services) -> None:
    app = make_app(services, api={"allowed_hosts": ["api"]})
    with TestClient(app, base_url="http://api:8000") as client:
        assert client.get("/v1/documents").status_code == 200


def test_conversations_that_open_alike_share_no_memory(services: Services, tiny_model) -> None:
    app = make_app(services, model=tiny_model, max_new_tokens=4)
    with TestClient(app) as client:

        def say(*texts: str) -> dict:
            msgs: list[dict] = []
            for i, text in enumerate(texts):
                msgs += [{"role": "user", "content": text}]
                if i < len(texts) - 1:
                    msgs += [{"role": "assistant", "content": "Hi! How can I help?"}]
            r = client.post("/v1/chat/completions", json={"model": "overlay", "messages": msgs})
            assert r.status_code == 200, r.text
            return r.json()["overlay"]

        say("Hello")
        say("Hello", "My name is Alice Smith and my PIN is 4711.")
        b = say("Hello", "What is my name?")  # another person, the same opening
        assert b["session_id"] is None and b["session_source"] == "none"
    assert services.session_memory.sessions() == []  # nothing of Alice's was kept to share
