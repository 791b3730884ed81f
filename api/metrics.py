"""Prometheus metrics of one app: requests, latencies per route and per stage, tokens.

Each app owns its registry (so several apps in one process — tests — never clash);
``GET /metrics`` renders it.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overlay.choosing.view_cache import view_cache_stats
from overlay.model.prefix import PASSAGES, prefix_cache_stats
from overlay.turn import Answer

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
        self.first_token = Histogram(
            "overlay_first_token_seconds",
            "Chat turns: request arrival to the first piece of answer text (queue wait included)",
            buckets=_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("overlay_tokens", "Model tokens", ["kind"], registry=r)
        self.turns = Counter("overlay_chat_turns", "Chat turns answered", ["abstained"], registry=r)
        self.abstentions = Counter(
            "overlay_chat_abstentions",
            "Chat turns that abstained, by why (overlay.record.ABSTENTIONS)",
            ["reason"], registry=r,
        )  # fmt: skip
        self.adapters_loaded = Gauge(
            "overlay_adapters_loaded", "Adapters currently loaded in the base model", registry=r
        )
        self.queue_waiting = Gauge(
            "overlay_model_queue_waiting", "Model jobs waiting for a worker", registry=r
        )
        self.queue_running = Gauge("overlay_model_queue_running", "Model jobs running", registry=r)
        self.warming = Gauge(
            "overlay_view_warming", "1 while views and reader passages are being read ahead "
            "of questions (api.warm_views)", registry=r,
        )  # fmt: skip
        self.prefix_cache = Gauge(
            "overlay_prefix_cache", "The model's prompt-prefix KV cache (overlay.model.prefix)",
            ["stat"], registry=r,
        )  # fmt: skip
        self.passage_cache = Gauge(
            "overlay_passage_cache", "Reader passages read ahead of questions "
            "(overlay.answering.ahead)", ["stat"], registry=r,
        )  # fmt: skip
        self.view_cache = Gauge(
            "overlay_view_cache", "Views' scoring passes kept for later turns "
            "(overlay.choosing.view_cache)", ["stat"], registry=r,
        )  # fmt: skip

    def observe_turn(self, answer: Answer, first_token_s: float | None = None) -> None:
        """Record a chat turn's stage timings, tokens, abstention and the time from the
        request's arrival to its first piece of text (``first_token_s``)."""
        for stage, ms in answer.timings_ms.items():
            self.stages.labels(stage=stage).observe(ms / 1000.0)
        for kind, n in (("prompt", answer.prompt_tokens), ("completion", answer.completion_tokens)):
            if n > 0:
                self.tokens.labels(kind=kind).inc(n)
        self.turns.labels(abstained=str(answer.abstained).lower()).inc()
        if answer.abstained_by:
            self.abstentions.labels(reason=answer.abstained_by).inc()
        if first_token_s is not None:
            self.first_token.observe(first_token_s)

    def render(self) -> bytes:
        for stat, value in prefix_cache_stats().items():
            self.prefix_cache.labels(stat=stat).set(value)
        for stat, value in prefix_cache_stats(PASSAGES).items():
            self.passage_cache.labels(stat=stat).set(value)
        for stat, value in view_cache_stats().items():
            self.view_cache.labels(stat=stat).set(value)
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
