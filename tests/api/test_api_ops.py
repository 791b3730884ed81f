"""The API's skeleton: health, readiness, metrics, the error shape, auth, limits, the queue."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import ModelQueue
from memory.errors import Busy
from overlay.services import Services
from tests.apiserver import make_app


def _error(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    assert "Traceback" not in resp.text
    return body["error"]


def test_health_ready_and_metrics(services: Services) -> None:
    with TestClient(make_app(services)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["stores"] == {"redis": "ok", "chroma": "ok"}
        text = client.get("/metrics").text
    assert 'overlay_http_requests_total{method="GET",route="/readyz",status="200"} 1.0' in text
    assert "overlay_http_request_seconds_bucket" in text
    assert "overlay_model_queue_waiting" in text


def test_not_found_and_method_not_allowed_use_the_error_shape(services: Services) -> None:
    with TestClient(make_app(services)) as client:
        assert _error(client.get("/no/such/route"), 404)["type"] == "not_found"
        assert _error(client.delete("/healthz"), 405)["type"] == "method_not_allowed"


def test_readyz_is_503_naming_the_store_that_is_down(base_services: Services) -> None:
    settings = base_services.settings.updated(
        **{"redis_url": "redis://127.0.0.1:1/0", "preload_model": False}
    )
    services = Services(settings, chroma=base_services.chroma, tenant="down")
    with TestClient(create_app(settings, services=services), base_url="http://localhost") as client:
        err = _error(client.get("/readyz"), 503)
        assert "redis" in err["message"] and "chroma" not in err["message"]
        assert client.get("/readyz").headers["retry-after"] == "5"
        assert client.get("/healthz").status_code == 200


def test_api_keys_map_to_tenants(services: Services) -> None:
    tenant = "k" + uuid.uuid4().hex[:10]
    app = make_app(services, api_keys={"secret-key-1": tenant})
    with TestClient(app) as client:
        assert _error(client.get("/v1/models"), 401)["type"] == "unauthorized"
        wrong = {"Authorization": "Bearer nope"}
        assert "invalid" in _error(client.get("/v1/models", headers=wrong), 401)["message"]
        assert client.get("/healthz").status_code == 200  # probes need no key
        from api.deps import get_services

        class Req:  # the dependency only reads app state and headers
            def __init__(self, headers: dict[str, str]) -> None:
                self.app = app
                self.headers = headers

        svc = get_services(Req({"authorization": "Bearer secret-key-1"}))  # type: ignore[arg-type]
        assert svc.tenant == tenant and svc.namespace == f"ov:{tenant}"


def test_body_over_the_limit_is_413(services: Services) -> None:
    app = make_app(services, max_body_bytes=2048)
    with TestClient(app) as client:
        big = {"query": "x" * 5000}
        err = _error(client.post("/v1/retrieve", json=big), 413)
        assert "limit" in err["message"]

        def chunks():
            for _ in range(10):
                yield b"x" * 1000

        resp = client.post(
            "/v1/retrieve", content=chunks(), headers={"content-type": "application/json"}
        )
        _error(resp, 413)


async def _until(check: Callable[[], bool], what: str) -> None:
    """Yield to the loop until ``check()`` holds (a state, not a guessed duration)."""
    deadline = time.monotonic() + 60  # only a hang reaches this on a loaded machine
    while not check():
        assert time.monotonic() < deadline, f"never reached: {what}"
        await asyncio.sleep(0.001)


def test_queue_is_fair_across_lanes_and_refuses_when_full() -> None:
    queue = ModelQueue(max_waiting=3, workers=1)
    queue.start()
    order: list[str] = []
    gate = threading.Event()

    def job(name: str, wait: bool = False):
        def run() -> str:
            if wait:
                gate.wait(60)
            order.append(name)
            return name

        return run

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(queue.run("a", job("a1", wait=True)))
        await _until(lambda: queue.running == 1, "a1 running")
        rest = [
            asyncio.ensure_future(queue.run(lane, job(name)))
            for lane, name in [("a", "a2"), ("a", "a3"), ("b", "b1")]
        ]
        await _until(lambda: queue.waiting == 3, "three jobs waiting")
        with pytest.raises(Busy) as busy:
            await queue.run("c", job("c1"))
        assert busy.value.retry_after >= 1
        gate.set()
        return [await first, *[await r for r in rest]]

    try:
        assert asyncio.run(scenario()) == ["a1", "a2", "a3", "b1"]
    finally:
        gate.set()
        queue.stop()
    assert order == ["a1", "a2", "b1", "a3"]  # b is served before a's second waiting job


def test_queue_runs_off_the_event_loop() -> None:
    queue = ModelQueue(max_waiting=4, workers=1)
    queue.start()
    gate = threading.Event()

    async def scenario() -> bool:
        # the job waits for the loop to open its gate: run on the loop, it could only
        # time out (the loop would be stuck in it), so True proves it ran in a thread
        job = asyncio.ensure_future(queue.run("x", lambda: gate.wait(30)))
        await _until(lambda: queue.running == 1, "the job running")
        gate.set()
        return await job

    try:
        assert asyncio.run(scenario()) is True
    finally:
        gate.set()
        queue.stop()
