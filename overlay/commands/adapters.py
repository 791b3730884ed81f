"""``overlay adapters list | train | merge | diff | remove``: thin wrappers over the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from overlay.commands.state import state

out = Console()
adapters_app = typer.Typer(
    help="LoRA adapters: train, list, merge, inspect, remove.", no_args_is_help=True
)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False))


@adapters_app.command("list")
def list_command(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Machine-readable.")
) -> None:
    """List the adapters in the adapters dir (no model is loaded).

    Example: overlay adapters list --json
    """
    from overlay.adapters.builtin import list_all

    settings = state(ctx).settings
    rows = list_all(settings.adapters_path)
    if as_json:
        _echo_json(
            {"adapters_dir": str(settings.adapters_path), "adapters": [r.to_dict() for r in rows]}
        )
        return
    if not rows:
        out.print(f"no adapters in {settings.adapters_path}", highlight=False)
        return
    table = Table("name", "rank", "targets", "size", "base model", "status")
    for r in rows:
        status = f"[red]{r.error}[/]" if r.error else "ok"
        table.add_row(
            r.name, str(r.rank or "-"), ",".join(r.target_modules),
            f"{r.size_bytes / 1024:.0f} KiB", r.base_model or "-", status,
        )  # fmt: skip
    out.print(table)


@adapters_app.command("train")
def train_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Adapter name (a folder name)."),
    data: Path = typer.Option(..., "--data", "-d", help="JSONL: messages or prompt/completion."),
    rank: int = typer.Option(8, "--rank", "-r", help="LoRA rank."),
    steps: int = typer.Option(60, "--steps", "-n", help="Optimizer steps."),
    lr: float = typer.Option(1e-3, "--lr", help="Learning rate."),
    batch_size: int = typer.Option(4, "--batch-size", help="Examples per step."),
    force: bool = typer.Option(False, "--force", help="Replace an existing adapter."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Train adapter NAME on DATA; the base model stays frozen.

    Example: overlay adapters train terse --data examples/adapters/terse.jsonl --steps 60
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from overlay.adapters.train import TrainConfig, read_examples, train_adapter

    st = state(ctx)
    read_examples(data)  # bad data fails before the model loads
    cfg = TrainConfig(rank=rank, steps=steps, lr=lr, batch_size=batch_size)
    base = st.services.model
    columns = (TextColumn("training {task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TextColumn("loss {task.fields[loss]}"), disable=as_json) as bar:
        task = bar.add_task(name, total=steps, loss="-")

        def tick(step: int, loss: float) -> None:
            bar.update(task, completed=step, loss=f"{loss:.4f}")

        result = train_adapter(base, data, name, st.settings.adapters_path, cfg, tick, force)
    summary = {
        "name": name, "path": str(result.path), "steps": result.steps,
        "examples": result.examples, "first_loss": round(result.losses[0], 4),
        "final_loss": round(result.final_loss, 4), "seconds": round(result.seconds, 2),
    }  # fmt: skip
    if as_json:
        _echo_json(summary)
    else:
        out.print(
            f"saved {result.path} · loss {summary['first_loss']} → {summary['final_loss']} "
            f"· {result.seconds:.1f} s",
            highlight=False,
        )


@adapters_app.command("merge")
def merge_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Adapter to merge."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for the standalone model."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Fold adapter NAME into a copy of the base and save it as a standalone model folder.

    Example: overlay adapters merge terse --out ./terse-merged
    """
    from overlay.adapters.merge import merge_adapter

    st = state(ctx)
    base = st.services.model
    with out.status(f"merging {name} …"):
        result = merge_adapter(base, st.settings.adapters_path, name, out_dir, force)
    if as_json:
        _echo_json(result.to_dict())
    else:
        out.print(f"wrote {result.out} ({result.size_bytes / 2**20:.0f} MiB)", highlight=False)


@adapters_app.command("diff")
def diff_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Adapter to compare with the base."),
    prompt: str = typer.Option(..., "--prompt", "-p", help="Prompt ('-' reads stdin)."),
    top: int = typer.Option(8, "--top", help="Tokens to show that rose and fell."),
    max_new_tokens: int = typer.Option(24, "--max-new-tokens", help="Greedy continuation length."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG heatmap here."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show how adapter NAME changes the model on PROMPT.

    Example: overlay adapters diff terse --prompt "What is the capital of France?" --plot d.png
    """
    from overlay.adapters.diff import diff_adapter, plot_diff

    if prompt == "-":
        prompt = typer.get_text_stream("stdin").read().strip()
    registry = state(ctx).services.adapters
    report = diff_adapter(registry, name, prompt, top=top, max_new_tokens=max_new_tokens)
    if plot is not None:
        plot_diff(report, plot)
    if as_json:
        _echo_json({**report.to_dict(), "plot": str(plot) if plot else None})
        return
    _render_diff(report, plot)


def _render_diff(report: Any, plot: Path | None) -> None:
    out.print(f"KL(adapter ‖ base) next token: [bold]{report.kl:.4f}[/] nats")
    table = Table("rose", "p base → adapter", "fell", "p base → adapter")
    for up, down in zip(report.rose, report.fell, strict=True):
        table.add_row(
            repr(up.token), f"{up.p_base:.3f} → {up.p_adapter:.3f}",
            repr(down.token), f"{down.p_base:.3f} → {down.p_adapter:.3f}",
        )  # fmt: skip
    out.print(table)
    for label, text in (("base   ", report.base_text), ("adapter", report.adapter_text)):
        out.print(f"[dim]{label}:[/] ", end="")
        out.print(text, highlight=False, markup=False)
    shift = report.entropy_shift
    per_layer = [sum(row) / len(row) for row in shift]
    if per_layer:
        biggest = max(range(len(per_layer)), key=lambda i: abs(per_layer[i]))
        out.print(
            f"attention entropy shift: mean {sum(per_layer) / len(per_layer):+.4f} nats, "
            f"largest at layer {biggest} ({per_layer[biggest]:+.4f})"
        )
    if plot is not None:
        out.print(f"plot: {plot}", highlight=False)


@adapters_app.command("remove")
def remove_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Adapter to delete."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Delete adapter NAME's folder from the adapters dir.

    Example: overlay adapters remove terse
    """
    import shutil

    from overlay.adapters.files import adapter_dir

    path = adapter_dir(state(ctx).settings.adapters_path, name)
    shutil.rmtree(path)
    if as_json:
        _echo_json({"removed": name})
    else:
        out.print(f"removed {name}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``adapters`` group to the overlay app."""
    app.add_typer(adapters_app, name="adapters")
