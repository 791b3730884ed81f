"""``overlay ingest`` and ``overlay sources``: parse, call ``ingest.pipeline``, render."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from memory.errors import InvalidInput

if TYPE_CHECKING:  # the pipeline (stores, numpy, redis) loads when a command runs
    from ingest.types import IngestReport, ProgressEvent

out = Console()
err = Console(stderr=True)


def _state(ctx: typer.Context) -> Any:
    """The root command's state (settings, services), duck-typed: ingest never imports overlay."""
    obj = ctx.find_root().obj
    if obj is None or not hasattr(obj, "services"):
        raise InvalidInput("internal: CLI state missing")
    return obj


sources_app = typer.Typer(help="List or remove ingested sources.", invoke_without_command=True)


def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or folders (folders recursively)."),
    collection: str | None = typer.Option(None, "--collection", "-c", envvar="OVERLAY_COLLECTION"),
    chunk_size: int | None = typer.Option(None, help="Chunk size in embedder tokens."),
    chunk_overlap: int | None = typer.Option(None, help="Overlap in embedder tokens."),
    prune: bool = typer.Option(False, help="Remove sources under PATHS whose files are gone."),
    include: list[str] = typer.Option([], "--include", help="Glob of files to take, e.g. '*.md'."),
    exclude: list[str] = typer.Option([], "--exclude", help="Glob of files to leave out."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Ingest documents, e.g. `overlay ingest docs/ --include '*.md' --prune`.

    Unchanged files are skipped, changed ones replaced; exit code 1 if any failed.
    """
    st = _state(ctx)
    coll = collection or st.settings.collection
    kwargs = {
        "collection": coll,
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
        "prune": prune,
        "include": include,
        "exclude": exclude,
    }
    if as_json:
        from ingest.pipeline import ingest_paths

        report = ingest_paths(st.services, paths, **kwargs)  # type: ignore[arg-type]
        out.print_json(json.dumps(report.to_dict()))
    else:
        report = _with_progress(st.services, paths, kwargs)
        _summary(report)
    if report.failed:
        raise typer.Exit(1)


def _with_progress(services: object, paths: list[Path], kwargs: dict[str, object]) -> IngestReport:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[chunks]} chunks"),
        TimeElapsedColumn(),
    )
    # at a terminal only: piped, rich's transient bar would still leave an empty line
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("ingesting", total=None, chunks=0)
        chunks = 0

        def on_event(ev: ProgressEvent) -> None:
            nonlocal chunks
            if ev.stage == "start":
                bar.update(task, total=ev.total)
            elif ev.stage == "vectors":
                chunks += ev.chunks
                bar.update(task, chunks=chunks, description=Path(ev.source).name[:40])
            elif ev.stage == "source":
                bar.update(task, completed=ev.done)

        from ingest.pipeline import ingest_paths

        return ingest_paths(services, paths, progress=on_event, **kwargs)  # type: ignore[arg-type]


def _summary(report: IngestReport) -> None:
    for r in report.results:
        if r.status in ("failed", "skipped"):
            colour = "red" if r.status == "failed" else "yellow"
            err.print(f"[{colour}]{r.status}[/] {r.source}: {r.reason}", highlight=False)
    d = report.to_dict()
    parts = ", ".join(f"{n} {s}" for s, n in d["sources"].items() if n)
    out.print(
        f"[bold]{report.collection}[/]: {parts or 'no sources'}; {d['chunks']} chunks in "
        f"{d['seconds']:.1f} s ({d['chunks_per_s']:.1f} chunks/s)",
        highlight=False,
    )


@sources_app.callback()
def sources(
    ctx: typer.Context,
    collection: str | None = typer.Option(None, "--collection", "-c", envvar="OVERLAY_COLLECTION"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the sources of a collection with their chunk counts."""
    if ctx.invoked_subcommand is not None:
        return
    st = _state(ctx)
    coll = collection or st.settings.collection
    from ingest.pipeline import list_sources

    infos = list_sources(st.services, coll)
    if as_json:
        out.print_json(json.dumps({"collection": coll, "sources": [i.to_dict() for i in infos]}))
        return
    table = Table("source", "kind", "chunks", "ingested", title=f"collection {coll}")
    for i in infos:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.ingested_at))
        table.add_row(i.source, i.kind, str(i.chunks), when)
    out.print(table)


@sources_app.command("remove")
def sources_remove(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="The source as listed by `overlay sources`."),
    collection: str | None = typer.Option(None, "--collection", "-c", envvar="OVERLAY_COLLECTION"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Delete a source's chunks everywhere, e.g. `overlay sources remove docs/old.md`."""
    st = _state(ctx)
    coll = collection or st.settings.collection
    from ingest.pipeline import remove_source

    info = remove_source(st.services, source, coll)
    if as_json:
        out.print_json(json.dumps({"collection": coll, "removed": info.to_dict()}))
    else:
        out.print(f"removed {info.source} ({info.chunks} chunks)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``sources`` to the ``overlay`` app."""
    app.command("ingest")(ingest)
    app.add_typer(sources_app, name="sources")
