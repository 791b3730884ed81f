"""Prometheus metrics of one app: requests, latencies per route and per stage, tokens.

Each app owns its registry (so several apps in one process — tests — never clash);
``GET /metrics`` renders it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The counters and histograms the API updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "overlay_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "overlay_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.stages = Histogram(
            "overlay_stage_seconds",
            "Chat-turn latency per pipeline stage",
            ["stage"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("overlay_tokens", "Model tokens", ["kind"], registry=r)
        self.turns = Counter("overlay_chat_turns", "Chat turns answered", ["abstained"], registry=r)
        self.adapters_loaded = Gauge(
            "overlay_adapters_loaded", "Adapters currently loaded in the base model", registry=r
        )
        self.queue_waiting = Gauge(
            "overlay_model_queue_waiting", "Model jobs waiting for a worker", registry=r
        )
        self.queue_running = Gauge("overlay_model_queue_running", "Model jobs running", registry=r)

    def observe_turn(self, answer: Mapping[str, Any]) -> None:
        """Record a chat turn's stage timings (ms), tokens and abstention."""
        for stage, ms in (answer.get("timings_ms") or {}).items():
            if isinstance(ms, int | float):
                self.stages.labels(stage=str(stage)).observe(float(ms) / 1000.0)
        usage = answer.get("usage") or {}
        for kind in ("prompt_tokens", "completion_tokens"):
            n = usage.get(kind)
            if isinstance(n, int) and n > 0:
                self.tokens.labels(kind=kind.removesuffix("_tokens")).inc(n)
        self.turns.labels(abstained=str(bool(answer.get("abstained"))).lower()).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Count every HTTP request by route template (never the raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)
