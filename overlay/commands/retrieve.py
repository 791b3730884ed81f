"""``overlay retrieve``: ranked candidates for a query, as a table or JSON.

With ``overlay serve`` running on the same data dir the query goes to its
``POST /v1/retrieve`` (answers in a fraction of a second: nothing loads here); otherwise
the stores and the embedder load in this process. The output is the same either way.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the stores and the model load only when a command runs
    from overlay.services import Services

MAX_K = 100  # overlay.knobs.MAX_K (a test checks they agree; importing it here costs 0.1 s)
out = Console()
FIELDS = ("id", "source", "text", "score", "kind")


def retrieve(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="The query; '-' reads it from stdin."),
    collection: str | None = typer.Option(None, "--collection", "-c", envvar="OVERLAY_COLLECTION"),
    k: int = typer.Option(10, "-k", "--k", min=1, max=MAX_K, help="How many results."),
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
    if results is None:
        results = _local(st.services, query, coll, k, method)
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


def _local(services: Services, query: str, coll: str, k: int, method: str) -> list[dict]:
    """Cold: Chroma starts and the embedder loads while Redis starts and the request is
    checked (``overlay.request``: an unknown collection fails here, before any search)."""
    from overlay.request import resolve_retrieve

    services.prefetch("chroma", "embedder")
    req = resolve_retrieve(services, query, k=k, collection=coll, method=method)
    if req.method == "chosen":  # the model scores: the turn's code and torch
        from overlay.turn import retrieve as chosen

        hits = chosen(services, req)
    else:
        from overlay.choosing.candidates import retrieve as ranked

        hits = ranked(services, req.text, req.collection, req.k, req.method)
    return [{f: h.to_dict().get(f, "") for f in FIELDS} for h in hits]


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
