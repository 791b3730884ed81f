"""Reading the reader adapter's passages ahead of questions.

The reader's prompt (``reading.reader_prompt``) is the chat template's head, ``Passage:`` and a
sentence with its neighbours, then the question. All before the question is the same whoever
asks, so the server computes it while idle, for every sentence window of the documents, under
the reader adapter, and keeps its KV states (``overlay.model.prefix.PASSAGES``). A question's
read then prefills only its own tokens (~25 of ~100).

    chunks ─► sentences (split as ``turn._read`` splits them) ─► windows (``spans.window``,
        what the reader is shown) ─► the prompt's ids up to the question ─► prefilled under
        the reader adapter and its judge, each once ``idle()`` ─► kept in ``PASSAGES``
        up to ``limit`` windows; the cache's bytes (``choose.view_cache_mb``) bound it,
        least recently used out
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from memory.errors import AdapterNotFound, InvalidInput, Misconfigured
from overlay.answering.reading import judge_of, reader_prompt
from overlay.answering.spans import window
from overlay.choosing.views import split_sentences
from overlay.choosing.warm import chunk_texts, first_distinct, warm_views, when_idle
from overlay.model.prefix import PASSAGES, PrefixCache, common_length
from overlay.services import Services

_PROBES = ("Who?", "What is it?")  # two questions: where their prompts part, the question starts


def passage_prefix(tokenizer: Any, passage: str) -> list[int]:
    """The reader prompt's token ids for ``passage``, up to where any question starts."""
    a, b = (reader_prompt(tokenizer, q, passage) for q in _PROBES)
    return a[: common_length(a, b)]


def template_head(tokenizer: Any) -> list[int]:
    """The reader prompt's token ids before any passage (every passage's head shares them)."""
    a, b = (passage_prefix(tokenizer, p) for p in _PROBES)
    return a[: common_length(a, b)]


def reader_windows(texts: Iterable[str]) -> Iterable[str]:
    """What the reader can be shown of ``texts``: each sentence with its neighbours (a text of
    markup alone has none, as ``sentences.sentence_candidates`` offers the reader none of it)."""
    for text in texts:
        sentences = split_sentences(text)
        for i in range(len(sentences)):
            yield " ".join(window(sentences, i))


def read_adapter(services: Services) -> str | None:
    """The adapter read mode decodes with by default (``answer.mode`` read, a reader that
    decodes), or None."""
    s = services.settings.answer
    return s.reader_adapter if s.mode == "read" and s.reader != "head" else None


def check_reading_adapters(services: Services, reader: str | None = None) -> None:
    """``Misconfigured`` where read mode's judge or reader (``reader``, default
    ``read_adapter``) is not installed: a request that never named an adapter is not told
    "adapter not found". Its detail (the log's, doctor's) names the adapter and the setting."""
    reader = reader or read_adapter(services)
    if reader is None:
        return  # read mode decodes nothing: neither is used
    for name, setting, instead in (
        (judge_of(services.settings.answer), "OVERLAY_ANSWER__READER_JUDGE", "set it empty"),
        (reader, "OVERLAY_ANSWER__READER_ADAPTER", "set it to 'reader'"),
    ):
        if name is not None and not _installed(services, name):
            raise Misconfigured(  # the caller hears this; the log and doctor hear which
                "read mode is misconfigured: an adapter its settings name is not installed "
                "(overlay doctor says which)",
                f"adapter {name!r} ({setting}) is not installed: install it (overlay adapters "
                f"list shows what is), or {instead}",
            )


def _installed(services: Services, name: str) -> bool:
    """Whether adapter ``name`` is installed (the user's folder or the built-ins); the model is
    not loaded to say so."""
    from overlay.adapters.builtin import root_for

    try:
        root_for(services.settings.adapters_path, name)
    except (AdapterNotFound, InvalidInput):  # no such folder, or no name an adapter can have
        return False
    return True


def reading_adapters(services: Services) -> list[str]:
    """The adapters read mode shows its reader prompts to: the reader's judge
    (``answer.reader_judge``) and the reader (``read_adapter``); none where read mode does
    not decode."""
    reader = read_adapter(services)
    if reader is None:
        return []
    judge = judge_of(services.settings.answer)
    return [reader] if judge is None else [judge, reader]


def load_reader(services: Services) -> None:
    """Load the adapters read mode shows its prompts to (``reading_adapters``): the first
    question would wait ~1 s for each. ``Misconfigured`` where one is not installed."""
    check_reading_adapters(services)
    for adapter in reading_adapters(services):
        services.adapters.load(adapter)


def read_ahead(
    services: Services,
    collections: Iterable[str],
    *,
    limit: int,
    idle: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
    where: dict[str, str] | None = None,
) -> tuple[int, int]:
    """The views (``warm_views``), then the reader passages (``warm_passages``), of up to
    ``limit`` windows of ``collections``' chunks each; how many of each were read."""
    names = list(collections)
    views = warm_views(services, names, limit=limit, idle=idle, stop=stop, where=where)
    return views, warm_passages(services, names, limit=limit, idle=idle, stop=stop, where=where)


def keep_passages(model: Any, tokenizer: Any, passages: Iterable[str], cache: PrefixCache) -> int:
    """Prefill and keep the reader prompts' question-free heads of ``passages`` (``model``
    wears the reader), each on top of the chat template's head kept once; how many were
    computed (those already kept are not). Beyond ``cache``'s bytes the least recently used
    go: newer documents' passages push out older ones no question has read since."""
    from overlay.model.runner import LeanRunner, make_runner

    head, done = template_head(tokenizer), 0
    for passage in passages:
        ids = passage_prefix(tokenizer, passage)
        runner = make_runner(model, len(ids))
        if not isinstance(runner, LeanRunner):
            return done  # only the lean runner reuses prefixes
        if cache.has(runner.owner, ids):
            continue
        base = len(head) if ids[: len(head)] == head and len(ids) > len(head) else 0
        if base and cache.get(runner.owner, head) is None:
            runner.keep(head, cache)  # once for every passage (the next keep reloads it)
        runner.keep(ids, cache, base)
        done += 1
    return done


def warm_passages(
    services: Services,
    collections: Iterable[str],
    *,
    limit: int,
    idle: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
    where: dict[str, str] | None = None,
    cache: PrefixCache = PASSAGES,
) -> int:
    """Keep the reader's passage heads of up to ``limit`` sentence windows of ``collections``'
    chunks (``where``: a metadata filter), one at a time, each once ``idle()``; how many were
    computed. ``stop`` ends it between windows. At most ``choose.view_cache_mb`` of memory
    (least recently used out); under the reader and its judge (``reading_adapters``), each
    only while it is loaded (the server loads them at start), never loading it here."""
    loaded = services.adapters.loaded
    adapters = [a for a in reading_adapters(services) if a in loaded]
    if not adapters or limit <= 0:
        return 0
    cache.max_bytes = services.settings.choose.view_cache_mb << 20
    texts = chunk_texts(services, collections, where)
    passages = first_distinct(reader_windows(texts), limit)

    def read(batch: list[str]) -> int:
        done = 0
        for adapter in adapters:  # the judge reads the same prompts the reader does
            with services.run_model(adapter) as model:
                done = max(done, keep_passages(model, services.model.tokenizer, batch, cache))
        return done

    return when_idle(passages, read, batch=1, idle=idle, stop=stop)
