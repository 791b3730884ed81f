"""Wiring: the one place where stores, the embedder and the model are created.

Everything else receives a ``Services`` (or the parts it needs). Heavy parts —
the embedder and the model — load on first use, so commands that only touch
Redis (``overlay sources``) start in milliseconds.
"""

from __future__ import annotations

import re
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from memory.embeddings import CachedEmbedder, Embedder, SentenceEmbedder
from memory.errors import InvalidInput
from memory.redis import RedisStore, connect_redis
from memory.vectors import ChromaStore, VectorStore, connect_chroma
from memory.weights import WeightTable
from overlay.settings import Settings

if TYPE_CHECKING:
    pass

_TENANT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Services:
    """Stores, embedder and model for one process, viewed through one tenant namespace."""

    def __init__(
        self,
        settings: Settings,
        redis: RedisStore | None = None,
        chroma: ChromaStore | None = None,
        embedder: Embedder | None = None,
        tenant: str = "local",
        shared: dict[str, Any] | None = None,
    ) -> None:
        if not _TENANT.match(tenant):
            raise InvalidInput(f"invalid tenant name {tenant!r}")
        self.settings = settings
        self.tenant = tenant
        self._redis = redis
        self._chroma = chroma
        self._shared: dict[str, Any] = shared if shared is not None else {"lock": threading.Lock()}
        if embedder is not None:
            self._shared["embedder"] = CachedEmbedder(embedder)

    # --- stores ---------------------------------------------------------------
    @property
    def redis(self) -> RedisStore:
        if self._redis is None:
            with self._shared["lock"]:
                if "redis" not in self._shared:
                    s = self.settings
                    s.data_dir.mkdir(parents=True, exist_ok=True)
                    self._shared["redis"] = connect_redis(s.redis_url, s.data_dir)
            self._redis = self._shared["redis"]
        return self._redis

    @property
    def chroma(self) -> ChromaStore:
        if self._chroma is None:
            with self._shared["lock"]:
                if "chroma" not in self._shared:
                    s = self.settings
                    s.data_dir.mkdir(parents=True, exist_ok=True)
                    self._shared["chroma"] = connect_chroma(s.chroma_url, s.data_dir, s.chroma_mode)
            self._chroma = self._shared["chroma"]
        return self._chroma

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
            self.chroma, f"{self.tenant}.{collection}", self.embedder, self.settings.hnsw_ef_search
        )

    # --- heavy, loaded on first use ------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._shared["lock"]:
            if "embedder" not in self._shared:
                s = self.settings
                inner = SentenceEmbedder(s.embedder, "cpu", s.embed_batch_size)
                self._shared["embedder"] = CachedEmbedder(inner)
        emb: Embedder = self._shared["embedder"]
        return emb

    def shared(self, name: str, factory: Any) -> Any:
        """A process-wide object built once by ``factory()`` (the model, the adapter registry)."""
        with self._shared["lock"]:
            if name not in self._shared:
                self._shared[name] = factory()
            return self._shared[name]

    def for_tenant(self, tenant: str) -> Services:
        """The same connections and models, seen through another tenant's namespace."""
        return Services(self.settings, self._redis, self._chroma, None, tenant, self._shared)

    def close(self) -> None:
        for name in ("chroma", "redis"):
            store = self._shared.pop(name, None)
            if store is not None:
                store.close()
        self._redis = self._chroma = None


def validate_collection(name: str) -> str:
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$", name or ""):
        raise InvalidInput(
            f"invalid collection name {name!r}: use 1-48 letters, digits, '_' or '-'"
        )
    return name


def build_services(settings: Settings, **kwargs: Any) -> Services:
    """Create the process's services from settings (stores connect lazily)."""
    return Services(settings, **kwargs)
