"""A stalled store (SIGSTOP: alive, port open, silent) costs a request its timeout, not the
stall: 503 with Retry-After; ``/readyz`` answers within 2 s naming the stalled store; the
embedded server's watchdog notices the stall (issue 21: 3, 7)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memory.embeddings import HashEmbedder
from memory.errors import StoreUnavailable
from memory.stores.chroma import _chroma_binary, chroma_errors, connect_chroma
from memory.stores.localserver import free_port, port_open
from memory.stores.redis import connect_redis
from overlay.services import Services
from tests.apiserver import live_server, make_app

TIMEOUT = 1.0  # the stores' call timeout in these tests (one retry for Redis)


def _timed(method: str, url: str, **kw: object) -> tuple[httpx.Response, float]:
    t0 = time.monotonic()
    r = httpx.request(method, url, timeout=120, **kw)  # type: ignore[arg-type]
    return r, time.monotonic() - t0


def _until(predicate, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def stopped() -> Iterator[list[int]]:
    """Pids the test SIGSTOPs; each gets its SIGCONT whatever happens."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        os.kill(pid, signal.SIGCONT)


def test_a_stalled_redis_costs_a_request_its_timeout_not_the_stall(
    base_services: Services, tmp_path: Path, stopped: list[int]
) -> None:
    store = connect_redis(None, tmp_path, timeout_s=TIMEOUT, retries=1)
    settings = base_services.settings.updated(redis_timeout_s=TIMEOUT)
    svc = Services(settings, store, base_services.chroma, HashEmbedder(), tenant="stall")
    try:
        with live_server(make_app(svc)) as url:
            turn = {"turns": [{"role": "user", "content": "The barometer reads 1013 hPa."}]}
            assert httpx.post(f"{url}/v1/sessions/s1/turns", json=turn).status_code == 200
            os.kill(store.handle.server.pid, signal.SIGSTOP)  # type: ignore[union-attr]
            stopped.append(store.handle.server.pid)  # type: ignore[union-attr]
            ready, took = _timed("GET", f"{url}/readyz")
            assert ready.status_code == 503 and took < 2.5, (ready.text, took)
            assert "redis stalled" in ready.json()["error"]["message"]
            bound = TIMEOUT * 2 + 5  # two tries, then the 503
            for method, path, body in [
                ("POST", "/v1/sessions/s1/turns", turn),
                ("POST", "/v1/retrieve", {"query": "barometer", "method": "sparse"}),
            ]:
                r, took = _timed(method, f"{url}{path}", json=body)
                assert r.status_code == 503 and took < bound, (path, r.text, took)
                assert r.headers["Retry-After"] and "127.0.0.1" not in r.text
            assert _until(lambda: store.handle.stalled, 8)  # type: ignore[union-attr]
            r, took = _timed("POST", f"{url}/v1/sessions/s1/turns", json=turn)
            assert r.status_code == 503 and took < 1.0, took  # known stalled: refused at once
            os.kill(stopped.pop(), signal.SIGCONT)
            assert _until(lambda: not store.handle.stalled, 8)  # type: ignore[union-attr]
            assert _until(lambda: httpx.get(f"{url}/readyz").status_code == 200, 15)
    finally:
        store.close()


@pytest.fixture
def chroma_proc(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    cmd = [*_chroma_binary(), "run", "--path", str(tmp_path / "c"), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _until(lambda: port_open("127.0.0.1", port), 60), "chroma did not start"
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def test_a_stalled_chroma_costs_a_request_its_timeout_not_the_stall(
    services: Services, chroma_proc, tmp_path: Path, stopped: list[int]
) -> None:
    proc, curl = chroma_proc
    assert _until(lambda: httpx.get(f"{curl}/api/v2/heartbeat").is_success, 60)
    chroma = connect_chroma(curl, tmp_path, timeout_s=TIMEOUT)
    settings = services.settings.updated(chroma_timeout_s=TIMEOUT)
    svc = Services(settings, services.redis, chroma, HashEmbedder(), tenant=services.tenant)
    with live_server(make_app(svc)) as url:
        doc = {"source": "b.txt", "text": "Halvorsen barometers were calibrated in Bergen."}
        assert httpx.post(f"{url}/v1/documents", json=doc, timeout=60).status_code == 200
        os.kill(proc.pid, signal.SIGSTOP)
        stopped.append(proc.pid)
        ready, took = _timed("GET", f"{url}/readyz")
        assert ready.status_code == 503 and took < 2.5, (ready.text, took)
        assert "chroma stalled" in ready.json()["error"]["message"]
        query = {"query": "barometers calibrated", "method": "dense"}
        r, took = _timed("POST", f"{url}/v1/retrieve", json=query)
        assert r.status_code == 503 and took < TIMEOUT + 5, (r.text, took)
        assert r.headers["Retry-After"] and "127.0.0.1" not in r.text
        os.kill(stopped.pop(), signal.SIGCONT)
        assert _until(lambda: httpx.get(f"{url}/readyz").status_code == 200, 15)


def test_a_chroma_server_error_without_a_class_is_a_503_not_a_500() -> None:
    # chromadb raises a bare Exception(body) for a 5xx it has no class for, e.g. this one,
    # seen while a forget dropped a session's collection under an append
    with pytest.raises(StoreUnavailable, match="Chroma failed"):
        with chroma_errors("add"):
            raise Exception('{"error":"InternalError","message":"Missing metadata segment"}')
    with pytest.raises(KeyError):  # our own bugs still propagate
        with chroma_errors("add"):
            raise KeyError("x")
