"""The server reads ahead while idle (``api.warm_views``), so its first questions read kept
views (``overlay.choosing.warm``) and kept reader passages (``overlay.answering.ahead``): after
it starts, every collection of the default tenant; after a document is ingested, that
document's chunks (its tenant's). Views first: every question reads them.

One daemon thread takes jobs in order; each batch of prompts (or one reader passage) waits until
no chat turn is queued or running, so warming never makes a question wait longer than one batch
(~0.2 s).
A failed job (a store down) is logged and dropped: warming is never needed for an answer.
"""

from __future__ import annotations

import logging
import queue
import threading

from api.limits import ModelQueue
from memory.errors import OverlayError
from overlay.answering.ahead import read_ahead
from overlay.services import Services

log = logging.getLogger("overlay.api")
_Job = tuple[Services, list[str] | None, dict[str, str] | None]  # None collections: all


class Warmer:
    """The warming thread of one app."""

    def __init__(self, model_queue: ModelQueue, limit: int) -> None:
        self.limit = limit
        self._model_queue = model_queue
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = threading.Event()  # set whenever no job is left (tests wait on it)
        self.done.set()
        self._pending = 0  # jobs added and not finished (under _lock: ``done`` follows it)
        self._lock = threading.Lock()

    def start(self, services: Services) -> None:
        """Start the thread, its first job every collection of ``services``."""
        if self.limit <= 0 or not services.settings.choose.view_cache_mb:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name="view-warmer", daemon=True)
        self._thread.start()
        self.add(services, None)

    def add(self, services: Services, collections: list[str] | None, source: str = "") -> None:
        """Warm ``collections`` (None: all of the tenant's), only ``source``'s chunks if given."""
        if self._thread is None:
            return
        with self._lock:
            self._pending += 1
            self.done.clear()
        self._jobs.put((services, collections, {"source": source} if source else None))

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _idle(self) -> bool:
        q = self._model_queue
        return q.waiting == 0 and q.running == 0

    def _work(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if job is None:
                break
            services, collections, where = job
            try:
                names = collections if collections is not None else services.collections()
                n, m = read_ahead(services, names, limit=self.limit, idle=self._idle,
                                  stop=self._stop, where=where)  # fmt: skip
                log.info("read ahead of questions: %d view prompts, %d reader passages", n, m)
            except (OverlayError, OSError, RuntimeError, ValueError) as exc:
                log.warning("reading ahead skipped: %s", exc)
            with self._lock:  # a job added meanwhile keeps ``done`` clear
                self._pending -= 1
                if not self._pending:
                    self.done.set()
        self.done.set()
