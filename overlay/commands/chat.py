"""``overlay chat``: a REPL of chat turns with session memory, each answer with its citations.

The collection and the adapter are checked once, before the first prompt (an unknown name
ends the command with one line naming what exists, exit code 2, nothing logged). A turn
that fails (a message over the length limit, a store down) prints its error and the REPL
goes on.
"""

from __future__ import annotations

from rich.console import Console

from memory.errors import OverlayError
from overlay.services import Services

out = Console()
SHOWN = 3  # citations printed under an answer
SNIPPET = 100  # characters of a cited passage


def repl(services: Services, session: str, collection: str | None, adapter: str | None) -> None:
    """Read a line, answer it, print the answer and its citations; an empty line or
    end-of-input ends."""
    from overlay.request import check_names, resolve
    from overlay.turn import ask

    collection, adapter = check_names(services, collection, adapter)
    out.print(f"[dim]session {session} — empty line or Ctrl-D to quit[/]")
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            break
        if not line:
            break
        try:
            req = resolve(services, line, collection=collection, adapter=adapter, session=session)
            answer = ask(services, req)
        except OverlayError as exc:
            out.print(f"[bold red]error:[/] {exc.message}", highlight=False)
            continue
        out.print(answer.answer, highlight=False, markup=False)
        for c in answer.citations[:SHOWN]:
            text = " ".join(c.hit.text.split())[:SNIPPET]
            out.print(f"  ↳ {c.hit.source} · {c.hit.id}: {text}", style="dim", highlight=False,
                      markup=False)  # fmt: skip
