"""``overlay retrieve``: ranked candidates for a query, as a table or JSON."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

out = Console()


def retrieve(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="The query; '-' reads it from stdin."),
    collection: str | None = typer.Option(None, "--collection", "-c", envvar="OVERLAY_COLLECTION"),
    k: int = typer.Option(10, "-k", "--k", min=1, max=1000, help="How many results."),
    method: str = typer.Option("hybrid", "--method", "-m", help="dense | sparse | hybrid | chosen"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Rank chunks for QUERY, e.g. `overlay retrieve "parental leave" -k 5 --json`."""
    from overlay.commands.state import state
    from overlay.turn import retrieve as run

    st = state(ctx)
    if query == "-":
        query = sys.stdin.read().strip()
    hits = run(st.services, query, collection or st.settings.collection, k, method)
    if as_json:
        out.print_json(json.dumps({"query": query, "results": [h.to_dict() for h in hits]}))
        return
    table = Table("#", "score", "source", "text", title=f"{method}: {query}")
    for i, h in enumerate(hits, 1):
        text = " ".join(h.text.split())
        table.add_row(
            str(i), f"{h.score:.4f}", h.source, text[:160] + ("…" if len(text) > 160 else "")
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``retrieve`` to the overlay app."""
    app.command("retrieve")(retrieve)
