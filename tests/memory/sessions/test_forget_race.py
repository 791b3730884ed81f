"""Appends racing a forget (issue 21: 7): 4 writers append to a session while another
forgets it over and over. Every call either succeeds or is a retryable ``Busy``; turn ids in
the log stay unique; nothing an append wrote after a forget outlives the next forget."""

from __future__ import annotations

import threading
import time
import uuid

from memory.embeddings import HashEmbedder
from memory.errors import Busy
from overlay.services import Services


def test_appends_racing_forgets_keep_turn_ids_unique_and_fail_only_retryably(
    base_services: Services,
) -> None:
    settings = base_services.settings.updated(memory_redis_vectors_max=0)  # vectors in Chroma
    svc = Services(settings, base_services.redis, base_services.chroma, HashEmbedder(),
                   tenant="r" + uuid.uuid4().hex[:10])  # fmt: skip
    mem = svc.session_memory
    stop = time.monotonic() + 6  # the race needs time to happen, not to order anything
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            try:
                mem.append("s", [{"role": "user", "content": f"note {n}-{i} about barometers"}])
            except Busy:
                continue
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    def forgetter() -> None:
        while time.monotonic() < stop:
            try:
                mem.forget("s")
            except Busy:
                pass
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=forgetter))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [], errors[:3]
    ids = [t.id for t in mem.turns("s")]
    assert len(ids) == len(set(ids)), "duplicate turn ids"
    mem.forget("s")
    assert mem.turns("s") == [] and not mem.exists("s")
    assert not mem.chroma.logical_names(mem.collection_name("s"))  # no vectors outlived it
