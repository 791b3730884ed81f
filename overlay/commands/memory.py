"""``overlay memory show|search|forget``, ``overlay facts add|get|remove``, ``overlay chat``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

out = Console()
memory_app = typer.Typer(help="Session memory: what a session said and what Overlay kept.")
facts_app = typer.Typer(help="Facts: taught (subject, relation → object) or a session's own.")


def _lib() -> Any:
    """The session-memory library, imported when a command runs (not for ``--help``)."""
    from overlay import remembering

    return remembering


def _services(ctx: typer.Context) -> Any:
    from overlay.commands.state import state

    return state(ctx).services


def _served(ctx: typer.Context, path: str, **query: Any) -> Any:
    """A running server's answer to ``GET path`` (read-only commands), or None."""
    from urllib.parse import quote

    from overlay.commands.remote import served
    from overlay.commands.state import state

    return served(state(ctx).remote(), quote(path), query)


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


@memory_app.command("show")
def show(
    ctx: typer.Context,
    session: str = typer.Argument(..., help="Session id."),
    last: int = typer.Option(20, "--last", "-n", help="Show the last N turns (0 = all)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show a session's facts and turns.  Example: overlay memory show alice -n 5"""
    data = _served(ctx, f"/v1/sessions/{session}", last=last or None) if last <= 1000 else None
    if data is None:
        data = _lib().show_session(_services(ctx), session, last or None)
    if as_json:
        return _print_json(data)
    out.print(f"[bold]{session}[/] — {data['count']} turns, user {data['user'] or '-'}")
    for f in data["facts"]:
        out.print(f"  fact  {f['history_line']}", highlight=False)
    for t in data["turns"]:
        out.print(f"  [dim]#{t['id']}[/] [cyan]{t['role']}[/]: {t['text']}", highlight=False)


@memory_app.command("search")
def search(
    ctx: typer.Context,
    session: str = typer.Argument(..., help="Session id."),
    query: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(5, "-k", help="How many memories."),
    since: str | None = typer.Option(None, "--since", help="Said at or after (2023-05-07)."),
    until: str | None = typer.Option(None, "--until", help="Said at or before (2023-05-31)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Rank a session's earlier turns and facts.  Example: overlay memory search alice "my city\""""
    # not through a server: its response model drops fields this output has (role, key, …)
    hits = _lib().memory_search(_services(ctx), session, query, k, since=since, until=until)
    results = [_lib().memory_result(h) for h in hits]
    if as_json:
        return _print_json({"session_id": session, "results": results})
    table = Table("score", "kind", "id", "text")
    for r in results:
        table.add_row(f"{r['score']:.3f}", r["kind"], r["id"], r["text"])
    out.print(table)


@memory_app.command("forget")
def forget(
    ctx: typer.Context,
    session: str = typer.Argument(..., help="Session id."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Remove everything of a session from Redis and Chroma.  Example: overlay memory forget a"""
    _lib().forget_session(_services(ctx), session)
    if as_json:
        return _print_json({"session_id": session, "forgotten": True})
    out.print(f"forgot session {session}")


@memory_app.command("export")
def export(
    ctx: typer.Context,
    session: str = typer.Argument(..., help="Session id."),
    out_file: str = typer.Option("-", "--out", "-o", help="File to write ('-' = stdout)."),
) -> None:
    """Write a session as JSON lines (turns with times, facts with history).
    Example: overlay memory export alice -o alice.jsonl"""
    text = "".join(line + "\n" for line in _lib().export_session(_services(ctx), session))
    if out_file == "-":
        sys.stdout.write(text)
    else:
        Path(out_file).write_text(text, encoding="utf-8")


@memory_app.command("import")
def import_(
    ctx: typer.Context,
    session: str = typer.Argument(..., help="A new session id to restore into."),
    in_file: str = typer.Argument("-", help="An export ('-' = stdin)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Restore an export into a new session.  Example: overlay memory import alice2 alice.jsonl"""
    raw = sys.stdin.read() if in_file == "-" else Path(in_file).read_text(encoding="utf-8")
    got = _lib().import_session(_services(ctx), session, raw.splitlines())
    if as_json:
        return _print_json({"session_id": session, **got})
    out.print(f"imported {got['turns']} turns and {got['facts']} facts into {session}")


@memory_app.command("delete-turn")
def delete_turn(
    ctx: typer.Context,
    session: str = typer.Argument(..., help="Session id."),
    turn_id: int = typer.Argument(..., help="Turn id (see overlay memory show)."),
) -> None:
    """Remove one turn and the facts it stated.  Example: overlay memory delete-turn alice 3"""
    gone = _lib().delete_turn(_services(ctx), session, turn_id)
    out.print(f"removed turn #{gone['id']}: {gone['text']}", highlight=False)


@facts_app.command("correct")
def facts_correct(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="The fact's key (see overlay facts get -s S)."),
    value: str = typer.Argument(..., help="The corrected value."),
    session: str = typer.Option(..., "--session", "-s", help="Session id."),
) -> None:
    """Correct a session fact; the old value stays in its history.
    Example: overlay facts correct -s alice city Bergen"""
    fact = _lib().correct_fact(_services(ctx), session, key, value)
    out.print(f"corrected: {fact.history_line()}", highlight=False)


@facts_app.command("add")
def facts_add(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help="Subject (or the fact key with --session)."),
    relation: str = typer.Argument(..., help="Relation (or the value with --session)."),
    obj: str | None = typer.Argument(None, help="Object (taught facts only)."),
    session: str | None = typer.Option(None, "--session", "-s", help="Add a session fact."),
    weight: float | None = typer.Option(None, "--weight", help="Weight (default: on top)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Teach a fact.  Examples: overlay facts add "Halvorsen" "CEO" "Maja Lund";
    overlay facts add --session alice name Bob"""
    svc = _services(ctx)
    if session:
        data = _lib().fact_result(_lib().add_fact(svc, session, subject, relation))
    else:
        if obj is None:
            raise typer.BadParameter("give SUBJECT RELATION OBJECT (or --session KEY VALUE)")
        data = _lib().teach_fact(svc, subject, relation, obj, weight).to_dict()
    if as_json:
        return _print_json(data)
    out.print(f"stored: {data['text']}", highlight=False)


@facts_app.command("get")
def facts_get(
    ctx: typer.Context,
    subject: str | None = typer.Argument(None, help="Subject (all taught facts if omitted)."),
    relation: str | None = typer.Argument(None, help="Relation."),
    session: str | None = typer.Option(None, "--session", "-s", help="A session's facts."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List facts.  Examples: overlay facts get Halvorsen CEO; overlay facts get -s alice"""
    if session:
        data = _served(ctx, f"/v1/sessions/{session}/facts")
        rows = data["facts"] if data is not None else [
            _lib().fact_result(f) for f in _lib().session_facts(_services(ctx), session)
        ]  # fmt: skip
        lines = [r["history_line"] for r in rows]
    else:
        data = _served(ctx, "/v1/facts", subject=subject, relation=relation)
        rows = data["facts"] if data is not None else [
            f.to_dict() for f in _lib().get_taught_facts(_services(ctx), subject, relation)
        ]  # fmt: skip
        lines = [f"{r['text']}  (weight {r['weight']:g})" for r in rows]
    if as_json:
        return _print_json({"facts": rows})
    for line in lines or ["(no facts)"]:
        out.print(line, highlight=False)


@facts_app.command("remove")
def facts_remove(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help="Subject (or the fact key with --session)."),
    relation: str | None = typer.Argument(None, help="Relation (taught facts)."),
    obj: str | None = typer.Argument(None, help="Only this object (default: all)."),
    session: str | None = typer.Option(None, "--session", "-s"),
) -> None:
    """Remove a fact.  Examples: overlay facts remove Halvorsen CEO; overlay facts remove -s a x"""
    svc = _services(ctx)
    if session:
        _lib().remove_fact(svc, session, subject)
    else:
        if relation is None:
            raise typer.BadParameter("give SUBJECT RELATION [OBJECT]")
        _lib().remove_taught_fact(svc, subject, relation, obj)
    out.print("removed")


def chat(
    ctx: typer.Context,
    session: str | None = typer.Option(None, "--session", "-s", help="Session id (new if unset)."),
    adapter: str | None = typer.Option(None, "--adapter", "-a", envvar="OVERLAY_ADAPTER"),
    collection: str | None = typer.Option(None, "--collection", "-c"),
) -> None:
    """Chat with memory (a REPL; empty line or Ctrl-D ends).  Example: overlay chat -s alice"""
    import uuid

    from overlay.commands.chat import repl

    session = session or "chat-" + uuid.uuid4().hex[:8]
    repl(_services(ctx), session, collection, adapter)


def register(app: typer.Typer) -> None:
    """Add ``memory``, ``facts`` and ``chat`` to the overlay app."""
    app.add_typer(memory_app, name="memory")
    app.add_typer(facts_app, name="facts")
    app.command("chat")(chat)
