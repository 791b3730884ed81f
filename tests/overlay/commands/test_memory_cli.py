"""``overlay memory …`` and ``overlay facts …`` through the CLI (real stores, real embedder)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memory.errors import SessionNotFound
from overlay import remembering
from overlay.cli import _register, app
from overlay.services import Services


def _run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"OVERLAY_DATA_DIR": str(data_dir)})
    return result.exit_code, result.stdout


def test_memory_and_facts_commands(data_dir: Path, base_services: Services) -> None:
    _register()
    s = "cli" + uuid.uuid4().hex[:8]
    code, out = _run(data_dir, "facts", "add", "--session", s, "name", "Alex")
    assert code == 0 and "my name is Alex" in out
    code, out = _run(data_dir, "facts", "add", "-s", s, "name", "Bob", "--json")
    assert code == 0 and json.loads(out)["history_line"] == "name: Alex → Bob"
    code, out = _run(data_dir, "memory", "search", s, "what is my name", "--json")
    assert code == 0 and json.loads(out)["results"][0]["text"] == "my name is Bob"
    # the CLI's tenant is "local", the same as the session fixture's
    assert remembering.show_session(base_services, s)["facts"][0]["value"] == "Bob"
    assert _run(data_dir, "memory", "forget", s)[0] == 0
    with pytest.raises(SessionNotFound):
        remembering.show_session(base_services, s)
