"""One cold ``overlay retrieve`` with a timeline: where its wall time goes.

Run by ``bench/cold_cli_bench.py`` as ``python _cold_probe.py OUT.json overlay-args...`` with
the tree under test first on ``sys.path``. It wraps the phases of the command (the stores'
connections, each server's start, the embedder's load, the request check, the search, the
close) with timers and writes each phase's start and end, in seconds since the process
began, to OUT.json at exit. The wrappers add microseconds; the probe imports
``overlay.services`` and ``overlay.choosing.candidates`` in the main thread before the
command runs (as ``import`` rows), where the command would import them a little later.
"""

from __future__ import annotations

import atexit
import functools
import json
import sys
import time
from collections.abc import Callable
from typing import Any

T0 = time.perf_counter()  # the interpreter's own start (~20 ms) comes before this
spans: list[dict[str, Any]] = []


def _span(name: str, start: float) -> None:
    end = time.perf_counter()
    spans.append({"phase": name, "start": start - T0, "end": end - T0})


def _timed(name: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _span(name(*args, **kwargs) if callable(name) else name, start)

    return wrapper


def _write(path: str) -> None:
    mods = sys.modules
    heavy = {m: m in mods for m in ("torch", "chromadb", "transformers", "redis.asyncio")}
    data = {"spans": spans, "imported": heavy, "exit": time.perf_counter() - T0}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    import overlay.cli as cli

    _span("import overlay.cli", start)
    start = time.perf_counter()
    import memory.stores.localserver as localserver
    import overlay.choosing.candidates as candidates
    import overlay.request as request
    import overlay.services as services

    _span("import services, candidates", start)
    services.connect_redis = _timed("redis: connect (import, start)", services.connect_redis)
    services.connect_chroma = _timed("chroma: connect (import, start)", services.connect_chroma)
    services.load_embedder = _timed("embedder: load", services.load_embedder)
    localserver._start = _timed(lambda name, *a, **k: f"{name}: server start", localserver._start)
    request.resolve_retrieve = _timed("request check", request.resolve_retrieve)
    candidates.retrieve = _timed("search (embed + rank)", candidates.retrieve)
    services.Services.close = _timed("close (stop servers)", services.Services.close)  # type: ignore[method-assign]
    atexit.register(_write, out)  # first registered, so it runs after the stores' own
    sys.argv = ["overlay", *argv]
    cli.main()


if __name__ == "__main__":
    main()
