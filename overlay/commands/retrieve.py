"""``overlay retrieve``: ranked candidates for a query, as a table or JSON.

With ``overlay serve`` running on the same data dir the query goes to its
``POST /v1/retrieve`` (answers in a fraction of a second: nothing loads here); otherwise
the stores and the embedder load in this process. The output is the same either way.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

out = Console()
FIELDS = ("id", "source", "text", "score", "kind")


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

    st = state(ctx)
    if query == "-":
        query = sys.stdin.read().strip()
    coll = collection or st.settings.collection
    results = _remote(st.remote(), query, coll, k, method)
    if results is None:  # cold: start Chroma and load the embedder while Redis starts
        st.services.prefetch("chroma", "embedder")
        if method == "chosen":  # the model scores: the turn's code and torch
            from overlay.turn import retrieve as run
        else:
            from overlay.choosing.candidates import retrieve as run

        hits = run(st.services, query, coll, k, method)
        results = [{f: h.to_dict().get(f, "") for f in FIELDS} for h in hits]
    if as_json:
        out.print_json(json.dumps({"query": query, "results": results}))
        return
    table = Table("#", "score", "source", "text", title=f"{method}: {query}")
    for i, h in enumerate(results, 1):
        text = " ".join(h["text"].split())
        table.add_row(
            str(i), f"{h['score']:.4f}", h["source"], text[:160] + ("…" if len(text) > 160 else "")
        )
    out.print(table)


def _remote(remote: Any, query: str, coll: str, k: int, method: str) -> list[dict] | None:
    """The server's results, or None to run locally (no server, or it could not be reached)."""
    if remote is None:
        return None
    body = {"query": query, "collection": coll, "k": k, "method": method}
    try:
        data = remote.call("POST", "/v1/retrieve", body)
    except ConnectionError:
        return None
    return [{f: r.get(f, "") for f in FIELDS} for r in data["results"]]


def register(app: typer.Typer) -> None:
    """Add ``retrieve`` to the overlay app."""
    app.command("retrieve")(retrieve)
