"""The vector store: one Chroma collection behind a narrow interface (``VectorStore``).

Connections (embedded server, in-process, or a URL) live in ``memory.stores.chroma``.
We always pass embeddings ourselves (Chroma's default embedding function would
download a model), keep telemetry off, and record the embedder's name and
dimension in each collection's metadata so a mismatch is refused.

Only a write (``add``) creates the collection; a read (``search``, ``get``, ``score``,
``ids``, ``count``, ``delete``) of a collection that does not exist finds nothing and
creates nothing, so asking about a typo never makes the typo exist.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from memory.embeddings import Embedder
from memory.errors import EmbedderMismatch, InvalidInput, NotFound
from memory.stores.chroma import ChromaMissing, ChromaStore, chroma_errors, chroma_name
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
        """The collection for writing: created (with our metadata) if it does not exist."""
        if self._col is None:
            with _errors("open"):
                self._col = self._open(create=True)
        return self._col

    def existing(self) -> Any | None:
        """The collection if it exists (its embedder checked), else None; never creates it."""
        if self._col is None:
            try:
                with chroma_errors("open"):
                    self._col = self._open(create=False)
            except ChromaMissing:
                return None
        return self._col

    def _open(self, create: bool) -> Any:
        meta = {"embedder": self.embedder.name, "dim": self.embedder.dim, "logical_name": self.name}
        cname = chroma_name(self.name)
        if not create:  # the caller maps Chroma's errors (missing: a read's "empty")
            col = self.chroma.client.get_collection(cname, embedding_function=None)
        else:
            hnsw = {"space": "cosine", "ef_search": self.ef_search, "ef_construction": 200}
            col = self.chroma.client.get_or_create_collection(
                cname, metadata=meta, configuration={"hnsw": hnsw}, embedding_function=None
            )
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
            with chroma_errors("exists"):
                self.chroma.client.get_collection(chroma_name(self.name), embedding_function=None)
            return True
        except ChromaMissing:
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
        with _errors("upsert"):
            self.col.upsert(
                ids=list(ids),
                documents=list(texts),
                metadatas=metas,
                embeddings=embeddings.tolist(),
            )

    def delete(self, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None) -> None:
        if not ids and not where:
            return
        col = self.existing()
        if col is None:  # nothing to delete, and nothing to create
            return
        with _errors("delete"):
            col.delete(ids=list(ids) if ids else None, where=where)

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Hit]:
        col = self.existing()
        if col is None:
            return []
        with _errors("get"):
            res = col.get(
                ids=list(ids) if ids is not None else None,
                where=where,
                limit=limit,
                offset=offset,
                include=["documents", "metadatas"],
            )
        return [
            _hit(i, d, m, 1.0)
            for i, d, m in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        ]

    def score(self, ids: Sequence[str], vector: np.ndarray) -> list[Hit]:
        """The stored ``ids`` (unknown ones skipped), scored by cosine similarity to ``vector``."""
        col = self.existing() if ids else None
        if col is None:
            return []
        with _errors("get"):
            res = col.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        sims = np.asarray(res["embeddings"], dtype=np.float32).reshape(-1, len(vector)) @ vector
        return [
            _hit(i, d, m, float(s))
            for i, d, m, s in zip(res["ids"], res["documents"], res["metadatas"], sims, strict=True)
        ]

    def ids(self, where: dict[str, Any] | None = None) -> list[str]:
        col = self.existing()
        if col is None:
            return []
        with _errors("get"):
            return list(col.get(where=where, include=[])["ids"])

    def count(self) -> int:
        col = self.existing()
        if col is None:
            return 0
        with _errors("count"):
            return int(col.count())

    def search(
        self, query: str | np.ndarray, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        """Nearest texts to ``query``, best first; score = cosine similarity."""
        col = self.existing() if k > 0 else None
        if col is None:
            return []
        vec = self.embedder.embed([query])[0] if isinstance(query, str) else np.asarray(query)
        # no count() first: Chroma returns fewer than k hits (or none) by itself
        with _errors("query"):
            res = col.query(
                query_embeddings=[vec.tolist()],
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
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
        with contextlib.suppress(ChromaMissing), chroma_errors("drop"):
            self.chroma.client.delete_collection(chroma_name(self.name))
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


@contextlib.contextmanager
def _errors(what: str) -> Iterator[None]:
    """``chroma_errors``, where a collection that vanished under us is the caller's 404."""
    try:
        with chroma_errors(what):
            yield
    except ChromaMissing as exc:
        raise NotFound("the collection does not exist", str(exc)) from exc
