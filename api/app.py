"""The FastAPI application: ``create_app(settings=None, services=None)``.

``overlay serve`` runs ``uvicorn --factory api.app:create_app``. Heavy resources
(store connections, the embedder, the model) load in the lifespan, never at
import. A store that is down at start does not stop the server: ``/readyz`` says
503 until it answers, and requests touching it get 503 with a clear message.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from api.edge import LocalGuard, OpsGuard, RequestId
from api.errors import install_error_handlers
from api.limits import BodyLimit, ModelQueue
from api.metrics import Metrics, MetricsMiddleware
from api.warming import Warmer
from ingest.recover import recover
from memory.errors import InvalidInput, OverlayError
from memory.tables.idempotency import clear_dead_claims
from overlay.answering.ahead import load_reader
from overlay.model.base import lookup_threads
from overlay.services import Services, build_services
from overlay.settings import Settings, get_settings

log = logging.getLogger("overlay.api")

API_DESCRIPTION = (
    "Overlay: a thin frozen LLM that chooses among candidates from external memory. "
    "`/v1/chat/completions` is OpenAI-compatible; errors are "
    '`{"error": {"type", "message"}}`.'
)


def _recover(services: Services) -> None:
    """Finish what killed ingestions left (orphan chunks), before the first request."""

    def for_namespace(namespace: str) -> Services | None:
        prefix, _, tenant = namespace.partition(":")
        try:
            return services.for_tenant(tenant) if prefix == "ov" else None
        except InvalidInput:  # not a tenant's namespace
            return None

    try:
        recover(services, for_namespace)
        cleared = clear_dead_claims(services.redis.client)  # a retry need not wait out a lease
        if cleared:
            log.warning("cleared %d Idempotency-Key claims of a killed server", cleared)
    except OverlayError as exc:  # retrieval hides the orphans anyway; the next ingest cleans
        log.warning("start-up recovery did not finish: %s (%s)", exc.message, exc.detail)


def _warm(app: FastAPI, services: Services, preload: bool) -> None:
    """Connect the stores, recover killed ingestions, load the embedder, the model and the
    adapter read mode decodes with (the first question would wait ~1 s for it)."""
    for name in ("redis", "chroma"):
        try:
            getattr(services, name)
        except OverlayError as exc:
            log.warning("%s is not reachable at start (%s); /readyz stays 503", name, exc.message)
    _recover(services)
    if not preload:
        return
    try:
        services.embedder  # noqa: B018 - loads it
        app.state.registry = services.adapters  # loads the base model
    except OverlayError as exc:
        log.warning("could not preload the model: %s", exc.message)
        return
    try:
        load_reader(services)
    except OverlayError as exc:  # e.g. built for another base model: read mode says so
        log.warning("could not preload the reader adapter: %s", exc.message)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    owned = app.state.services is None
    services = app.state.services or build_services(settings)
    if not settings.api_keys:
        log.warning(
            "OVERLAY_API_KEYS is not set: local single-tenant mode, no authentication. "
            'Bind to loopback only, or set OVERLAY_API_KEYS=\'{"<key>": "<tenant>"}\'.'
        )
    # sync routes and run_in_threadpool share this limiter: cap lookups running at once so
    # 32 clients do not starve the model's worker of CPU (model work has its own threads)
    anyio.to_thread.current_default_thread_limiter().total_tokens = lookup_threads(settings)
    await run_in_threadpool(_warm, app, services, settings.api.preload_model)
    app.state.services = services
    app.state.tenants = {}
    app.state.queue.start()
    app.state.warmer.start(services)
    try:
        yield
    finally:
        app.state.warmer.stop()
        app.state.queue.stop()
        if owned:
            services.close()
            app.state.services = None


def _include_routes(app: FastAPI) -> None:
    from api.routes import (
        adapters,
        chat,
        documents,
        embeddings,
        facts,
        feedback,
        ops,
        page,
        retrieve,
        sessions,
    )

    routes = (ops, page, chat, embeddings, retrieve, sessions, documents, facts, adapters, feedback)
    for module in routes:
        app.include_router(module.router)
    chat.document_stream(app)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app. ``services`` (tests, benchmarks) is used as-is and not closed."""
    settings = settings or (services.settings if services is not None else get_settings())
    app = FastAPI(title="Overlay", version="0.1.0", description=API_DESCRIPTION, lifespan=_lifespan)
    app.state.settings = settings
    app.state.services = services
    app.state.tenants = {}
    app.state.registry = None
    app.state.metrics = Metrics()
    app.state.queue = ModelQueue(settings.api.max_queue, settings.api.model_workers)
    warm = settings.api.warm_views if settings.api.preload_model else 0
    app.state.warmer = Warmer(app.state.queue, warm)
    install_error_handlers(app)
    _include_routes(app)
    upload = int(settings.ingest.max_file_mb * 1_048_576) + 65_536  # multipart overhead
    app.add_middleware(BodyLimit, max_body=settings.api.max_body_bytes, max_upload=upload)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(OpsGuard, keys=settings.api_keys, open_=settings.api.open_ops_endpoints)
    if not settings.api_keys:  # keyless: local callers only (DNS rebinding, cross-site forms)
        app.add_middleware(LocalGuard, allowed=settings.api.allowed_hosts)
    app.add_middleware(RequestId)  # outermost: every answer, refusals included, carries the id
    return app
