"""The CLI's fast path: ``overlay retrieve`` asks a running server of the same data dir and
prints exactly what it prints without one; a dead or absent server means the local path."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ingest.pipeline import ingest_text
from memory.minilm import load_embedder
from overlay import remembering
from overlay.cli import _register, app
from overlay.commands.remote import announce, find_server, retract, run_file
from overlay.services import Services
from tests.apiserver import live_server, make_app

TEXTS = {
    "leave.md": "Employees get 25 days of paid annual leave. Unused days carry over to March.",
    "founding.md": "Halvorsen Instruments was founded in 1987 in Bergen by Ingrid Halvorsen.",
    "support.md": "Support answers by email within one working day, Monday to Friday.",
}


def _run(data_dir: Path, *args: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"OVERLAY_DATA_DIR": str(data_dir), **env})
    return result.exit_code, result.stdout + (result.stderr or "")


def test_retrieve_through_a_running_server_prints_the_same(
    data_dir: Path, base_services: Services
) -> None:
    _register()
    # the embedder the CLI and `overlay serve` load (sentence-transformers' vectors to 1e-5)
    embedder = load_embedder("all-MiniLM-L6-v2")
    local = Services(base_services.settings, base_services.redis, base_services.chroma, embedder)
    coll = "cli" + uuid.uuid4().hex[:8]
    for source, text in TEXTS.items():
        ingest_text(local, source, text, collection=coll)
    args = ("retrieve", "how many days of paid leave", "-c", coll, "-k", "3", "--json")
    code, alone = _run(data_dir, *args, OVERLAY_CLI_SERVER="off")
    assert code == 0 and json.loads(alone)["results"][0]["source"] == "leave.md"
    session = "cli" + uuid.uuid4().hex[:8]
    turns = [{"role": "user", "content": "my name is Ada and I live in Oslo"},
             {"role": "user", "content": "I prefer tea over coffee"}]  # fmt: skip
    remembering.append_turns(local, session, turns)
    reads = [
        ("memory", "show", session, "--json"),
        ("facts", "get", "--session", session, "--json"),
        ("facts", "get", "--json"),
    ]
    locally = [_run(data_dir, *r, OVERLAY_CLI_SERVER="off") for r in reads]
    assert all(code == 0 for code, _ in locally)
    assert "Oslo" in json.loads(locally[0][1])["turns"][0]["text"]

    calls: list[str] = []
    server_app = make_app(local)

    @server_app.middleware("http")
    async def count(request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        calls.append(request.url.path)
        return await call_next(request)

    with live_server(server_app) as url:
        port = int(url.rsplit(":", 1)[1])
        announce(data_dir, "0.0.0.0", port, local=True)
        try:
            assert find_server(data_dir) is not None
            code, served = _run(data_dir, *args)
            assert code == 0 and "/v1/retrieve" in calls
            assert json.loads(served) == json.loads(alone)
            assert served == alone
            calls.clear()
            for r, here in zip(reads, locally, strict=True):
                assert _run(data_dir, *r) == here, r
            assert len(calls) >= len(reads)  # each went through the server
            code, err = _run(data_dir, "retrieve", "x", "-c", "no such name!")
            assert code == 1  # the server's 4xx is the command's error, as locally
        finally:
            retract(data_dir)
    assert not run_file(data_dir).exists()


def test_a_stale_or_multi_tenant_run_file_is_ignored(tmp_path: Path) -> None:
    announce(tmp_path, "127.0.0.1", 9, local=True)  # nothing listens on the discard port
    assert find_server(tmp_path) is None
    announce(tmp_path, "127.0.0.1", 9, local=False)
    assert find_server(tmp_path) is None
    run_file(tmp_path).write_text('{"url": "http://127.0.0.1:9", "pid": 999999999, "local": 1}')
    assert find_server(tmp_path) is None
    run_file(tmp_path).write_text("not json")
    assert find_server(tmp_path) is None
