"""``overlay chat``: a REPL of chat turns with session memory, each answer with its citations.

The collection and the adapter are checked once, before the first prompt (an unknown name
ends the command with one line naming what exists, exit code 2, nothing logged). A turn
that fails (a message over the length limit, a store down) prints its error and the REPL
goes on.

While the user types, a background thread loads the model and the reader adapter and reads
the collection's views and reader passages ahead (``overlay.answering.ahead.read_ahead``, up
to ``api.warm_views`` windows each), pausing whenever a turn runs: a first question typed in
a few seconds is answered as fast as the server's.
"""

from __future__ import annotations

import logging
import threading

from rich.console import Console

from memory.errors import OverlayError
from overlay.services import Services

log = logging.getLogger("overlay.chat")

out = Console()
SHOWN = 3  # citations printed under an answer
SNIPPET = 100  # characters of a cited passage
QUOTE = 240  # characters of the sentence an answer rests on, shown for its first citation


def repl(services: Services, session: str, collection: str | None, adapter: str | None) -> None:
    """Read a line, answer it, print the answer and its citations; an empty line or
    end-of-input ends."""
    from overlay.request import check_names

    collection, adapter = check_names(services, collection, adapter)
    ahead = ReadAhead(services, collection)
    out.print(f"[dim]session {session} — empty line or Ctrl-D to quit[/]")
    try:
        _loop(services, session, collection, adapter, ahead)
    finally:
        ahead.close()


def _loop(
    services: Services, session: str, collection: str, adapter: str | None, ahead: ReadAhead
) -> None:
    from overlay.record import ABSTENTIONS
    from overlay.request import resolve
    from overlay.turn import ask

    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            break
        if not line:
            break
        ahead.busy.set()  # reading ahead pauses after its current batch
        try:
            req = resolve(services, line, collection=collection, adapter=adapter, session=session)
            answer = ask(services, req)
        except OverlayError as exc:
            out.print(f"[bold red]error:[/] {exc.message}", highlight=False)
            continue
        finally:
            ahead.busy.clear()
        out.print(answer.answer, highlight=False, markup=False)
        if answer.abstained_by in ABSTENTIONS:
            out.print(f"  ({ABSTENTIONS[answer.abstained_by]})", style="dim", highlight=False)
        for i, c in enumerate(answer.citations[:SHOWN]):
            quoted = i == 0 and bool(answer.quote)  # the sentence the answer rests on
            text = " ".join((answer.quote if quoted else c.hit.text).split())
            text = text[: QUOTE if quoted else SNIPPET]
            out.print(f"  ↳ {c.hit.source} · {c.hit.id}: {text}", style="dim", highlight=False,
                      markup=False)  # fmt: skip


class ReadAhead:
    """The REPL's background thread: the model, the reader adapter, then the collection's
    views and reader passages, read while no turn runs (``busy`` clear) until ``stop``."""

    def __init__(
        self, services: Services, collection: str, busy: threading.Event | None = None
    ) -> None:
        self.busy = busy or threading.Event()  # set while a turn runs
        self.stop = threading.Event()
        self.done = threading.Event()
        self.read: tuple[int, int] = (0, 0)  # views, reader passages
        self._thread = threading.Thread(
            target=self._run, args=(services, collection), name="chat-read-ahead", daemon=True
        )
        self._thread.start()

    def _run(self, services: Services, collection: str) -> None:
        from overlay.answering.ahead import load_reader, read_ahead

        try:
            services.adapters  # noqa: B018 - loads the base model
            try:
                load_reader(services)
            except OverlayError as exc:  # e.g. made for another base model: views only
                log.debug("reader adapter not loaded: %s", exc)
            limit = services.settings.api.warm_views
            idle = lambda: not self.busy.is_set()  # noqa: E731
            self.read = read_ahead(services, [collection], limit=limit, idle=idle, stop=self.stop)
        except (OverlayError, OSError, RuntimeError, ValueError) as exc:  # a turn reports it
            log.debug("reading ahead stopped: %s", exc)
        finally:
            self.done.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the current batch (a model still loading finishes first, up to
        ``timeout``)."""
        self.stop.set()
        self._thread.join(timeout)
