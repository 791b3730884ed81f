"""The installed ``overlay`` entry point turns failures into non-zero exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _overlay(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OVERLAY_DATA_DIR": str(tmp_path / "data")}
    code = "from overlay.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_failed_source_makes_ingest_exit_non_zero(tmp_path: Path) -> None:
    r = _overlay(tmp_path, "ingest", str(tmp_path / "missing.txt"), "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    assert '"failed": 1' in r.stdout


def test_an_overlay_error_is_one_line_and_exit_one(tmp_path: Path) -> None:
    r = _overlay(tmp_path, "retrieve", "anything", "--method", "bogus")
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error: unknown method 'bogus'")
    assert "Traceback" not in r.stderr


def test_usage_errors_exit_two(tmp_path: Path) -> None:
    r = _overlay(tmp_path, "ingest", "--no-such-option")
    assert r.returncode == 2 and "No such option" in r.stderr
