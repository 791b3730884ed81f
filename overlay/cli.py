"""The ``overlay`` command: a thin edge that parses, calls the library, renders.

Each command group lives in its own module (``overlay/commands/*``, and
``ingest/cli.py`` for ``ingest`` and ``sources``) and registers itself here.
An ``OverlayError`` becomes one clear line on stderr, no traceback, and exit code 1; a name
that does not exist (collection, adapter, session: a 404 over HTTP) and usage errors exit 2.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import typer
from rich.console import Console

from ingest import cli as ingest_cli
from memory.errors import OverlayError
from overlay.commands import adapters, ask, memory, retrieve, serve
from overlay.commands.state import CliState

app = typer.Typer(
    name="overlay",
    help="Overlay: a thin frozen LLM that chooses among candidates from external memory.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", envvar="OVERLAY_CONFIG", help="YAML settings file."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", envvar="OVERLAY_DATA_DIR", help="Where the stores and models live."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    state = CliState(config, data_dir)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _register() -> None:
    for module in (ingest_cli, retrieve, ask, adapters, memory, serve):
        module.register(app)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    quiet_progress_when_piped()
    _register()
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of exiting
        sys.exit(code if isinstance(code, int) else 0)
    except OverlayError as exc:
        err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        sys.exit(exit_code(exc))
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # usage errors: typer ships its own copy of click's exceptions
        if _is_click(exc, "ClickException"):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if _is_click(exc, "Abort"):
            sys.exit(1)
        raise


def quiet_progress_when_piped() -> None:
    """Progress bars (tqdm's, Hugging Face's "Loading weights") only when stderr is a terminal:
    piped or logged, each frame is one more line of noise. Set before anything heavy is imported:
    huggingface_hub reads ``HF_HUB_DISABLE_PROGRESS_BARS`` once at import and transformers
    derives its own switch from it; should transformers already be loaded, it is told directly."""
    if sys.stderr.isatty():
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    if "transformers" in sys.modules:  # never imported here just for this: it costs seconds
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def exit_code(exc: OverlayError) -> int:
    """2 for a name that does not exist (``NotFound``, or a server's 404), like a usage
    error; 1 for every other failure."""
    return 2 if exc.status_code == 404 else 1


def _is_click(exc: BaseException, name: str) -> bool:
    """``exc`` is (a subclass of) click's ``name``, from click or from typer's vendored copy."""
    return any(
        c.__name__ == name
        and c.__module__.endswith("_click.exceptions")
        or c.__module__ == "click.exceptions"
        and c.__name__ == name
        for c in type(exc).__mro__
    )


if __name__ == "__main__":
    main()
