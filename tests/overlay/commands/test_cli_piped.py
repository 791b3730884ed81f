"""Piped (stderr not a terminal), the CLI prints results and no progress bars."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from overlay import cli

_BARS = ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def no_bar_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _BARS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_bar_env")
def test_piped_stderr_turns_progress_bars_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    cli.quiet_progress_when_piped()
    assert [os.environ.get(n) for n in _BARS] == ["1", "1"]


@pytest.mark.usefixtures("no_bar_env")
def test_a_terminal_keeps_its_progress_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Tty())
    cli.quiet_progress_when_piped()
    assert [os.environ.get(n) for n in _BARS] == [None, None]


def test_piped_ingest_prints_no_empty_progress_line(tmp_path: Path) -> None:
    env = {**os.environ, "OVERLAY_DATA_DIR": str(tmp_path / "data")}
    r = subprocess.run(
        [sys.executable, "-c", "from overlay.cli import main; main()", "ingest", "missing.txt"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.startswith("failed "), repr(r.stderr)
    assert r.stdout.startswith("default: 1 failed"), repr(r.stdout)
