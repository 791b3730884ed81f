"""Helpers for the API tests: build an app on the test stores, run it under uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from memory.stores.localserver import free_port
from overlay.services import Services


def make_app(services: Services, model: Any = None, **overrides: Any) -> FastAPI:
    """The app on ``services``' stores and tenant, with settings ``overrides``.

    The app gets its own ``Services`` (own process-wide cache), so ``model`` — a
    ``BaseModel`` such as the session's real SmolLM2 — is this app's model only.
    """
    overrides.setdefault("preload_model", False)
    settings = services.settings.updated(**overrides)
    if not settings.api_keys:  # Starlette's TestClient calls itself "testserver"
        settings = settings.updated(
            api={"allowed_hosts": [*settings.api.allowed_hosts, "testserver"]}
        )
    svc = Services(
        settings, services.redis, services.chroma, services.embedder, tenant=services.tenant
    )
    if model is not None:
        svc.use_model(model)
    return create_app(settings, services=svc)


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(15)


def wait_ok(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


@contextmanager
def serving_docs(
    services: Services, model: Any, docs: dict[str, str], **overrides: Any
) -> Iterator[str]:
    """A live server on ``services``' stores with ``model`` and ``docs`` ({source: text})
    ingested through ``POST /v1/documents``; yields its URL."""
    with live_server(make_app(services, model=model, **overrides)) as url:
        for source, text in docs.items():
            r = httpx.post(f"{url}/v1/documents", json={"source": source, "text": text})
            assert r.status_code == 200, r.text
        yield url
