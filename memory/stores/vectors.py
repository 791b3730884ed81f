"""The vector store: one Chroma collection behind a narrow interface (``VectorStore``).

Connections (embedded server, in-process, or a URL) live in ``memory.stores.chroma``.
We always pass embeddings ourselves (Chroma's default embedding function would
download a model), keep telemetry off, and record the embedder's name and
dimension in each collection's metadata so a mismatch is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from memory.embeddings import Embedder
from memory.errors import EmbedderMismatch, InvalidInput, StoreUnavailable
from memory.stores.chroma import ChromaStore, chroma_name
from memory.types import Hit


class VectorStore:
    """One Chroma collection of embedded texts, bound to one embedder."""

    def __init__(
        self, chroma: ChromaStore, name: str, embedder: Embedder, ef_search: int = 200
    ) -> None:
        self.chroma = chroma
        self.name = name
        self.embedder = embedder
        self.ef_search = ef_search
        self._col: Any = None

    @property
    def col(self) -> Any:
        if self._col is None:
            self._col = self._open(create=True)
        return self._col

    def _open(self, create: bool) -> Any:
        meta = {"embedder": self.embedder.name, "dim": self.embedder.dim, "logical_name": self.name}
        cname = chroma_name(self.name)
        try:
            if create:
                col = self.chroma.client.get_or_create_collection(
                    cname,
                    metadata=meta,
                    configuration={
                        "hnsw": {
                            "space": "cosine",
                            "ef_search": self.ef_search,
                            "ef_construction": 200,
                        }
                    },
                    embedding_function=None,
                )
            else:
                col = self.chroma.client.get_collection(cname, embedding_function=None)
        except Exception as exc:
            raise _map_chroma_error(exc, f"collection {self.name!r}") from exc
        found = col.metadata or {}
        if (
            found.get("embedder") != self.embedder.name
            or int(found.get("dim", -1)) != self.embedder.dim
        ):
            raise EmbedderMismatch(
                f"collection {self.name!r} was built with embedder {found.get('embedder')!r} "
                f"(dim {found.get('dim')}), but the configured embedder is "
                f"{self.embedder.name!r} (dim {self.embedder.dim}); use the same embedder or "
                "another collection"
            )
        return col

    def exists(self) -> bool:
        try:
            self.chroma.client.get_collection(chroma_name(self.name), embedding_function=None)
            return True
        except Exception as exc:
            if not self.chroma.ping():
                raise StoreUnavailable(f"Chroma is unavailable: {exc}") from exc
            return False

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        embeddings: np.ndarray | None = None,
    ) -> None:
        """Upsert ``texts`` under ``ids`` (embedding them unless given)."""
        if not ids:
            return
        if embeddings is None:
            embeddings = self.embedder.embed(texts)
        if embeddings.shape != (len(ids), self.embedder.dim):
            raise InvalidInput(
                f"embeddings of shape {embeddings.shape} do not fit {len(ids)} texts"
            )
        metas = [_clean_meta(m) for m in metadatas]
        try:
            self.col.upsert(
                ids=list(ids),
                documents=list(texts),
                metadatas=metas,
                embeddings=embeddings.tolist(),
            )
        except Exception as exc:
            raise _map_chroma_error(exc, "upsert") from exc

    def delete(self, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None) -> None:
        if not ids and not where:
            return
        try:
            self.col.delete(ids=list(ids) if ids else None, where=where)
        except Exception as exc:
            raise _map_chroma_error(exc, "delete") from exc

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Hit]:
        try:
            res = self.col.get(
                ids=list(ids) if ids is not None else None,
                where=where,
                limit=limit,
                offset=offset,
                include=["documents", "metadatas"],
            )
        except Exception as exc:
            raise _map_chroma_error(exc, "get") from exc
        return [
            _hit(i, d, m, 1.0)
            for i, d, m in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        ]

    def score(self, ids: Sequence[str], vector: np.ndarray) -> list[Hit]:
        """The stored ``ids`` (unknown ones skipped), scored by cosine similarity to ``vector``."""
        if not ids:
            return []
        try:
            res = self.col.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        except Exception as exc:
            raise _map_chroma_error(exc, "get") from exc
        sims = np.asarray(res["embeddings"], dtype=np.float32).reshape(-1, len(vector)) @ vector
        return [
            _hit(i, d, m, float(s))
            for i, d, m, s in zip(res["ids"], res["documents"], res["metadatas"], sims, strict=True)
        ]

    def ids(self, where: dict[str, Any] | None = None) -> list[str]:
        try:
            return list(self.col.get(where=where, include=[])["ids"])
        except Exception as exc:
            raise _map_chroma_error(exc, "get") from exc

    def count(self) -> int:
        try:
            return int(self.col.count())
        except Exception as exc:
            raise _map_chroma_error(exc, "count") from exc

    def search(
        self, query: str | np.ndarray, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        """Nearest texts to ``query``, best first; score = cosine similarity."""
        if k <= 0:
            return []
        vec = self.embedder.embed([query])[0] if isinstance(query, str) else np.asarray(query)
        try:  # no count() first: Chroma returns fewer than k hits (or none) by itself
            res = self.col.query(
                query_embeddings=[vec.tolist()],
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        except Exception as exc:
            raise _map_chroma_error(exc, "query") from exc
        return [
            _hit(i, d, m, 1.0 - float(dist))
            for i, d, m, dist in zip(
                res["ids"][0],
                res["documents"][0],
                res["metadatas"][0],
                res["distances"][0],
                strict=True,
            )
        ]

    def drop(self) -> None:
        """Delete the whole collection (no error if absent)."""
        try:
            self.chroma.client.delete_collection(chroma_name(self.name))
        except Exception as exc:
            if not self.chroma.ping():
                raise StoreUnavailable(f"Chroma is unavailable: {exc}") from exc
        self._col = None


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma metadata holds str/int/float/bool only; drop None, stringify the rest."""
    out: dict[str, Any] = {}
    for k, v in meta.items():
        if v is None:
            continue
        out[k] = v if isinstance(v, str | int | float | bool) else str(v)
    return out


def _hit(id_: str, doc: str | None, meta: dict[str, Any] | None, score: float) -> Hit:
    meta = dict(meta or {})
    return Hit(
        id=id_,
        text=doc or "",
        score=score,
        source=str(meta.get("source", "")),
        kind=str(meta.get("kind", "chunk")),
        metadata=meta,
    )


def _map_chroma_error(exc: Exception, what: str) -> Exception:
    from memory.errors import OverlayError

    if isinstance(exc, OverlayError):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    if any(s in low for s in ("connect", "timed out", "timeout", "unavailable", "refused")):
        return StoreUnavailable(f"Chroma is unavailable during {what}: {exc}")
    return InvalidInput(f"Chroma rejected {what}: {exc}")
