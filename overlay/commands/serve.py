"""``overlay serve`` (the HTTP API under uvicorn) and ``overlay doctor`` (health table).

``api`` is imported only by uvicorn through the factory string, never here at
module level: arrows point ``api → overlay``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from memory.errors import OverlayError
from memory.tables.migrate import find_old_keys, migrate

if TYPE_CHECKING:
    from overlay.services import Services

APP_FACTORY = "api.app:create_app"


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", envvar="OVERLAY_HOST", help="Bind address."),
    port: int | None = typer.Option(None, "--port", envvar="OVERLAY_PORT", help="TCP port."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API (OpenAI-compatible chat at /v1/chat/completions, docs at /docs).

    Example: overlay serve --host 127.0.0.1 --port 8000
    """
    import os

    import uvicorn

    from overlay.commands.remote import announce, retract
    from overlay.commands.state import state

    st = state(ctx)
    settings = st.settings
    # the factory builds its own settings in this process: hand ours over via the environment
    os.environ["OVERLAY_DATA_DIR"] = str(settings.data_dir)
    if st.config:
        os.environ["OVERLAY_CONFIG"] = str(st.config)
    host, port = host or settings.host, port or settings.port
    shown = f"[{host}]" if ":" in host else ("127.0.0.1" if host in ("0.0.0.0", "") else host)
    typer.echo(f"Overlay: chat page at http://{shown}:{port}/  (API docs at /docs)")
    # read-only CLI commands of this data dir call us instead of loading everything
    announce(settings.data_dir, host, port, local=not settings.api_keys)
    try:
        uvicorn.run(
            APP_FACTORY, factory=True, host=host, port=port, log_level=log_level,
            timeout_graceful_shutdown=10,
        )  # fmt: skip
    finally:
        retract(settings.data_dir)


def _timed(check: Callable[[], str]) -> tuple[bool, str, float]:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except OverlayError as exc:  # the operator's own tool: what the server would only log too
        ok, detail = False, f"{exc.message}: {exc.detail}" if exc.detail else exc.message
    except Exception as exc:  # doctor reports every failure instead of crashing
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return ok, detail, (time.perf_counter() - started) * 1000


def _checks(services: Services) -> dict[str, Callable[[], str]]:
    settings = services.settings

    def redis() -> str:
        if not services.redis.ping():
            raise OverlayError("Redis does not answer PING")
        return services.redis.url

    def key_layout() -> str:
        old = list(find_old_keys(services.redis.client, limit=1000))
        if old:
            more = "+" if len(old) >= 1000 else ""
            raise OverlayError(
                f"{len(old)}{more} keys in the previous Redis key layout (e.g. {old[0]!r}): "
                "run `overlay doctor --migrate`"
            )
        return "hash-tagged (Redis Cluster ready)"

    def chroma() -> str:
        if not services.chroma.ping():
            raise OverlayError("Chroma does not answer its heartbeat")
        return services.chroma.url or f"in-process at {settings.data_dir / 'chroma'}"

    def embedder() -> str:
        emb = services.embedder
        vec = emb.embed(["doctor"])
        return f"{emb.name} dim={emb.dim} ({vec.shape[1]}-d vector)"

    def model() -> str:
        from overlay.model.base import available_cores, lookup_threads

        m = services.model
        n = m.numeric
        return (
            f"{m.name} on {m.device} (loaded in {m.load_seconds:.1f}s); scoring {n.scoring}, "
            f"prefill {n.prefill}, decode {n.decode} ({n.reason}; cpu: {' '.join(n.flags)}); "
            f"decode gemv {m.gemv}; {m.threads} torch thread(s), "
            f"{lookup_threads(services.settings)} lookup threads on {available_cores()} core(s)"
        )

    def reader() -> str:
        from overlay.answering.ahead import check_reading_adapters, reading_adapters

        check_reading_adapters(services)
        names = reading_adapters(services)
        if not names:
            return f"{settings.answer.mode} mode decodes with no reader adapter"
        roles = ("judge", "reader") if len(names) == 2 else ("reader",)
        return ", ".join(f"{role} {name}" for role, name in zip(roles, names, strict=True))

    return {
        "redis": redis,
        "key layout": key_layout,
        "chroma": chroma,
        "embedder": embedder,
        "model": model,
        "reader": reader,
    }


def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    skip_model: bool = typer.Option(False, "--skip-model", help="Do not load the model."),
    migrate_keys: bool = typer.Option(
        False, "--migrate", help="First move keys of the previous Redis key layout to the new one."
    ),
) -> None:
    """Check the stores, the embedder, the model and read mode's adapters; print a table; exit 1
    if any fails.

    Example: overlay doctor --skip-model    (add --migrate after an upgrade)
    """
    from overlay.commands.state import state

    services = state(ctx).services
    if migrate_keys:
        _migrate(services, as_json)
    checks = _checks(services)
    if skip_model:
        checks.pop("model")
    rows = {name: _timed(check) for name, check in checks.items()}
    if as_json:
        out = {n: {"ok": ok, "detail": d, "ms": round(ms, 1)} for n, (ok, d, ms) in rows.items()}
        typer.echo(json.dumps(out, indent=2))
    else:
        table = Table(title=f"overlay doctor — data dir {services.settings.data_dir}")
        for col in ("check", "status", "detail", "ms"):
            table.add_column(col)
        for name, (ok, detail, ms) in rows.items():
            mark = "[green]ok[/]" if ok else "[red]FAIL[/]"
            table.add_row(name, mark, detail, f"{ms:.0f}")
        Console().print(table)
    if not all(ok for ok, _, _ in rows.values()):
        raise typer.Exit(1)


def _migrate(services: Services, as_json: bool) -> None:
    """Move old-layout keys (``memory.tables.migrate``) and say what moved."""
    report = migrate(services.redis.client)
    if as_json:
        typer.echo(json.dumps({"migrate": report.to_dict()}))
    else:
        typer.echo(f"migrated {report.moved} keys to the hash-tagged layout")
        for key in report.conflicts:
            typer.echo(f"  kept {key!r}: its new key already exists (resolve by hand)", err=True)
        for key in report.unknown:
            typer.echo(f"  left {key!r}: not a key layout Overlay wrote", err=True)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``doctor`` to the overlay app."""
    app.command("serve")(serve)
    app.command("doctor")(doctor)
