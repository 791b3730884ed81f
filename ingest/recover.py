"""Start-up recovery: finish what killed ingestions left behind, before serving.

A run killed between writing its chunks and committing them leaves ``pending`` ids;
one killed after a commit leaves ``garbage`` ids (see ``ingest.writer``). Retrieval
already hides both (``SourceManifest.hidden``); recovery deletes them, under each
collection's writer lock, so they also stop costing space and query depth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from ingest.types import IngestServices
from ingest.writer import CollectionWriter
from memory.errors import OverlayError, StoreUnavailable
from memory.stores.redis import store_errors
from memory.tables.manifest import SourceManifest

log = logging.getLogger("overlay.ingest")


def unfinished(client: object, namespace_prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(namespace, collection)`` of every collection with pending or garbage chunks."""
    seen: set[tuple[str, str]] = set()
    for name in ("pending", "garbage"):
        with store_errors():
            keys = list(client.scan_iter(match=SourceManifest.key_pattern(name), count=1000))  # type: ignore[attr-defined]
        for key in keys:
            found = SourceManifest.parse_key(key, name)
            if found and found[0].startswith(namespace_prefix) and found not in seen:
                seen.add(found)
                yield found


def recover(services: IngestServices, for_namespace: Callable[[str], IngestServices | None]) -> int:
    """Reconcile every collection a killed run left unfinished; returns chunks removed.

    ``for_namespace`` gives the services of a namespace (``None``: not ours, skip it).
    """
    removed = 0
    for namespace, collection in unfinished(services.redis.client):
        owner = for_namespace(namespace)
        if owner is None:
            continue
        writer = CollectionWriter(owner, collection)
        writer.lock_wait_s = 0.5  # a live writer holds it: that writer reconciles
        try:
            with writer:  # entering reconciles
                removed += writer.removed
        except StoreUnavailable:
            raise
        except OverlayError as exc:  # one collection's trouble does not stop the others
            log.warning("could not recover collection %r of %s: %s", collection, namespace,
                        exc.message)  # fmt: skip
            continue
        log.warning("recovered collection %r of %s: %d orphan chunks removed",
                    collection, namespace, writer.removed)  # fmt: skip
    return removed
