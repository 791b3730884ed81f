"""Wiring: the one place where stores, the embedder, the model and the adapters are created.

Everything else receives a ``Services`` and asks it for typed parts: ``redis``, ``chroma``,
``weights``, ``vectors(collection)``, ``embedder``, ``model``, ``adapters``,
``session_memory``, ``taught_facts``. Heavy parts — the embedder and the model — load on
first use, so commands that only touch Redis (``overlay sources``) start in milliseconds.
One process holds one set of connections and models (``_Shared``); ``for_tenant`` views
them through another tenant's namespace.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from memory.embeddings import CachedEmbedder, Embedder, LazyEmbedder
from memory.errors import CollectionNotFound, InvalidInput
from memory.minilm import load_embedder
from memory.sessions.serial import SerialSessionMemory
from memory.sessions.store import SessionMemory
from memory.sessions.turns import MemoryConfig
from memory.stores.chroma import ChromaStore, connect_chroma
from memory.stores.redis import RedisStore, connect_redis
from memory.stores.vectors import VectorStore
from memory.stores.weights import WeightTable
from memory.tables.taught import TaughtFacts
from overlay.model.base import BaseModel, load_base_model, set_threads
from overlay.settings import Settings

if TYPE_CHECKING:
    from overlay.adapters.registry import AdapterRegistry

PARTS = ("redis", "chroma", "embedder", "model")
_TENANT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$"  # Chroma wants >= 3 chars: tenant.name
_COLLECTION = re.compile(COLLECTION_PATTERN)


@dataclass
class _Shared:
    """What one process builds once and every tenant's view shares."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    # one lock per heavy part, so the stores can start while the embedder loads (prefetch)
    locks: dict[str, threading.RLock] = field(
        default_factory=lambda: {p: threading.RLock() for p in PARTS}
    )
    redis: RedisStore | None = None
    chroma: ChromaStore | None = None
    embedder: CachedEmbedder | None = None  # one memory; each tenant sees its own entries
    model: BaseModel | None = None
    adapters: AdapterRegistry | None = None
    session_memories: dict[str, SessionMemory] = field(default_factory=dict)
    prefetching: list[threading.Thread] = field(default_factory=list)
    owned: set[str] = field(default_factory=set)  # stores this process connected (and closes)


class Services:
    """Stores, embedder, model and adapters for one process, seen through one tenant."""

    def __init__(
        self,
        settings: Settings,
        redis: RedisStore | None = None,
        chroma: ChromaStore | None = None,
        embedder: Embedder | None = None,
        tenant: str = "local",
        model: BaseModel | None = None,
        _shared: _Shared | None = None,
    ) -> None:
        if not _TENANT.match(tenant):
            raise InvalidInput(f"invalid tenant name {tenant!r}")
        self.settings = settings
        self.tenant = tenant
        self._s = _shared if _shared is not None else _Shared()
        if redis is not None:
            self._s.redis = redis
        if chroma is not None:
            self._s.chroma = chroma
        if embedder is not None:
            self._s.embedder = CachedEmbedder(embedder)
        if model is not None:
            self._s.model = model

    # --- stores ---------------------------------------------------------------
    @property
    def redis(self) -> RedisStore:
        with self._s.locks["redis"]:
            if self._s.redis is None:
                s = self.settings
                s.data_dir.mkdir(parents=True, exist_ok=True)
                self._s.redis = connect_redis(
                    s.redis_url, s.data_dir, s.redis_cluster, s.redis_timeout_s, s.redis_retries
                )
                self._s.owned.add("redis")
            return self._s.redis

    @property
    def chroma(self) -> ChromaStore:
        with self._s.locks["chroma"]:
            if self._s.chroma is None:
                s = self.settings
                s.data_dir.mkdir(parents=True, exist_ok=True)
                self._s.chroma = connect_chroma(
                    s.chroma_url, s.data_dir, s.chroma_mode, s.chroma_timeout_s
                )
                self._s.owned.add("chroma")
            return self._s.chroma

    @property
    def namespace(self) -> str:
        """Prefix of every Redis key and Chroma collection of this tenant."""
        return f"ov:{self.tenant}"

    @cached_property
    def weights(self) -> WeightTable:
        return WeightTable(self.redis.client, self.namespace)

    def vectors(self, collection: str) -> VectorStore:
        """The tenant's vector collection ``collection``."""
        validate_collection(collection)
        return VectorStore(
            self.chroma,
            f"{self.tenant}.{collection}",
            self.embedder,
            self.settings.retrieve.hnsw_ef_search,
        )

    def collections(self) -> list[str]:
        """The tenant's document collections (the default one always), sorted."""
        prefix = f"{self.tenant}."
        names = [n.removeprefix(prefix) for n in self.chroma.logical_names(prefix)]
        return sorted({self.settings.collection, *(n for n in names if _COLLECTION.match(n))})

    def require_collection(self, name: str) -> str:
        """``name`` if the tenant has it; ``CollectionNotFound`` listing the ones it has."""
        validate_collection(name)
        if name == self.settings.collection:  # the default always exists (maybe empty)
            return name
        known = self.collections()
        if name not in known:
            raise CollectionNotFound(
                f"collection {name!r} not found; this tenant has: {', '.join(known)}"
            )
        return name

    @property
    def session_memory(self) -> SessionMemory:
        """The tenant's session memory (one per process and tenant; caches are shared)."""
        client, chroma = self.redis.client, self.chroma
        with self._s.lock:
            mem = self._s.session_memories.get(self.tenant)
            if mem is None:
                mem = SerialSessionMemory(  # appends and forgets of a session in turn
                    client, chroma, LazyEmbedder(lambda: self.embedder), self.namespace,
                    _memory_config(self.settings),
                )  # fmt: skip
                self._s.session_memories[self.tenant] = mem
            return mem

    @property
    def taught_facts(self) -> TaughtFacts:
        """The tenant's taught facts: the weight table plus a small semantic index."""
        index = VectorStore(
            self.chroma, f"{self.tenant}.taught.facts", self.embedder,
            self.settings.retrieve.hnsw_ef_search,
        )  # fmt: skip
        return TaughtFacts(self.weights, index)

    # --- heavy, loaded on first use ------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._s.locks["embedder"]:
            if self._s.embedder is None:
                s = self.settings
                inner = load_embedder(  # torch's threads set as the model sets them, if it loads
                    s.embedder, "cpu", s.embed_batch_size, s.embed_runtime, lambda: set_threads(s)
                )
                self._s.embedder = CachedEmbedder(inner)
            return self._s.embedder.scoped(self.tenant)  # no cache hit across tenants

    @property
    def model(self) -> BaseModel:
        """The process's frozen base model, loaded on first use."""
        with self._s.locks["model"]:
            if self._s.model is None:
                self._s.model = load_base_model(self.settings)
            return self._s.model

    def use_model(self, model: BaseModel) -> None:
        """Serve ``model`` instead of loading ``settings.model`` (tests, benchmarks)."""
        with self._s.locks["model"], self._s.lock:
            self._s.model, self._s.adapters = model, None

    @property
    def adapters(self) -> AdapterRegistry:
        """The process-wide adapter registry on the shared base model."""
        from overlay.adapters.registry import AdapterRegistry  # torch and peft: on first use

        base = self.model
        with self._s.lock:
            if self._s.adapters is None:
                s = self.settings
                self._s.adapters = AdapterRegistry(base, s.adapters_path, s.adapters.max_loaded)
            return self._s.adapters

    @contextlib.contextmanager
    def run_model(self, adapter: str | None) -> Iterator[Any]:
        """Hold the model lock, wear ``adapter`` (None = the base) and yield the torch model,
        under ``torch.inference_mode``. An unknown adapter raises ``AdapterNotFound``."""
        import torch

        with self.adapters.activate(adapter) as model, torch.inference_mode():
            yield model

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the base model's tokenizer (the one token counter)."""
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def for_tenant(self, tenant: str) -> Services:
        """The same connections and models, seen through another tenant's namespace."""
        return Services(self.settings, tenant=tenant, _shared=self._s)

    def prefetch(self, *parts: str) -> list[threading.Thread]:
        """Start connecting or loading ``parts`` (of ``PARTS``) in background threads, so a
        cold command overlaps the stores' start-up with loading the embedder. A part that
        fails here is tried again, and reported, where it is used."""
        unknown = [p for p in parts if p not in PARTS]
        if unknown:
            raise InvalidInput(f"unknown part {unknown[0]!r}; known: {', '.join(PARTS)}")
        threads = [threading.Thread(target=self._touch, args=(p,), daemon=True,
                                    name=f"prefetch-{p}") for p in parts]  # fmt: skip
        for t in threads:
            t.start()
        self._s.prefetching += threads
        return threads

    def _touch(self, part: str) -> None:
        with contextlib.suppress(Exception):  # reported by the caller that needs the part
            getattr(self, part)

    def close(self) -> None:
        for t in self._s.prefetching:  # a store half started is a server nobody owns
            t.join(timeout=120)
        self._s.prefetching.clear()
        with self._s.locks["chroma"], self._s.locks["redis"], self._s.lock:
            if "chroma" in self._s.owned and self._s.chroma is not None:
                self._s.chroma.close()
                self._s.chroma = None
            if "redis" in self._s.owned and self._s.redis is not None:
                self._s.redis.close()
                self._s.redis = None
            self._s.owned.clear()
            self._s.session_memories.clear()


def _memory_config(s: Settings) -> MemoryConfig:
    return MemoryConfig(
        embed_assistant=s.memory.embed_assistant,
        fact_bonus=s.memory.fact_bonus,
        recency_weight=s.memory.recency_weight,
        recency_halflife=s.memory.recency_halflife,
        lexical_weight=s.memory.lexical_weight,
        redis_vectors_max=s.memory.redis_vectors_max,
        ef_search=s.retrieve.hnsw_ef_search,
    )


def validate_collection(name: str) -> str:
    if not _COLLECTION.match(name or ""):
        raise InvalidInput(
            f"invalid collection name {name!r}: use 1-48 letters, digits, '_' or '-'"
        )
    return name


def build_services(settings: Settings, **kwargs: Any) -> Services:
    """Create the process's services from settings (stores connect lazily)."""
    return Services(settings, **kwargs)
