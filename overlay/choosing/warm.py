"""Warming the view cache, so a fresh server's first questions read kept views.

A candidate's view is one of its chunk's windows (``views.windows``: the chunk whole if it fits
in ``choose.view_tokens``, else whole sentences from each sentence on), whatever is asked, so
every view's scoring prompt can be read before any question: the same ids, layers and key the
chooser's pass would use (``scoring.keep_views``). A later question over that chunk then reads
only its own ~10 tokens per candidate (``overlay.choosing.view_cache``).

    collection's chunks ─► their windows ─► batches of ``batch`` prompts, each read when
        ``idle()`` says no turn is waiting ─► kept in ``VIEWS``
        until ``limit`` views or half the cache's bytes (a question's own views keep room)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

from overlay.choosing.chooser import reads_in_pass, span_reader
from overlay.choosing.scoring import keep_views
from overlay.choosing.span_head import LAYERS
from overlay.choosing.view_cache import VIEWS, ViewCache
from overlay.choosing.views import windows
from overlay.services import Services

_PAGE = 256  # chunks fetched from the store at a time


def chunk_windows(services: Services, texts: Iterable[str]) -> list[str]:
    """Every view the chooser can read of ``texts`` (``views.windows``), in order."""
    n, count = services.settings.choose.view_tokens, services.count_tokens
    return [w for t in texts for w in windows(t, n, count) if w]


def warm_views(
    services: Services,
    collections: Iterable[str],
    *,
    limit: int,
    batch: int = 4,
    idle: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
    where: dict[str, str] | None = None,
    cache: ViewCache | None = None,
) -> int:
    """Read and keep the scoring prompts of up to ``limit`` views of ``collections``' chunks
    (``where``: a metadata filter, e.g. one source), ``batch`` at a time, each batch only once
    ``idle()``; how many prompts were read. ``stop`` ends it between batches. Never fills more
    than half the view cache (``cache``: the process's, sized by the settings)."""
    s = services.settings
    if not s.choose.view_cache_mb or limit <= 0 or s.choose.views != "window":
        return 0
    cache = cache or VIEWS.sized(s.choose.view_cache_mb << 20)
    layers = LAYERS if span_reader(services, reads_in_pass(services, s.answer.mode), None) else ()
    # "": the passage-free baseline every question's pass reads
    views = ["", *chunk_views(services, collections, limit, where)]

    def read(prompts: list[str]) -> int:
        with services.run_model(None) as model:
            return keep_views(model, services.model.tokenizer, prompts, layers, cache)

    full = lambda: cache.nbytes > cache.max_bytes // 2  # noqa: E731
    return when_idle(views, read, batch=batch, idle=idle, stop=stop, full=full)


def when_idle(
    items: Sequence[str],
    read: Callable[[list[str]], int],
    *,
    batch: int,
    idle: Callable[[], bool],
    stop: threading.Event | None,
    full: Callable[[], bool] = lambda: False,
) -> int:
    """``read`` ``items`` ``batch`` at a time, each batch once ``idle()``, until ``stop`` is
    set or ``full()``; the sum of what ``read`` returned."""
    stop = stop or threading.Event()
    done = 0
    for i in range(0, len(items), batch):
        while not idle():
            if stop.wait(0.05):
                return done
        if stop.is_set() or full():
            break
        done += read(list(items[i : i + batch]))
    return done


def chunk_texts(
    services: Services, collections: Iterable[str], where: dict[str, str] | None
) -> Iterator[str]:
    """The collections' chunk texts in store order, fetched a page at a time as consumed."""
    for name in collections:
        store, offset = services.vectors(name), 0
        while hits := store.get(where=where, limit=_PAGE, offset=offset):
            offset += len(hits)
            yield from (h.text for h in hits)


def first_distinct(found: Iterable[str], limit: int) -> list[str]:
    """The first ``limit`` distinct items of ``found`` (consumed no further)."""
    out: dict[str, None] = {}
    for item in found if limit > 0 else ():
        out[item] = None
        if len(out) >= limit:
            break
    return list(out)


def chunk_views(
    services: Services, collections: Iterable[str], limit: int, where: dict[str, str] | None
) -> list[str]:
    """Up to ``limit`` distinct views of the collections' chunks, in store order."""
    texts = chunk_texts(services, collections, where)
    return first_distinct((w for t in texts for w in chunk_windows(services, [t])), limit)
