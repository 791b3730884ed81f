"""``overlay doctor`` and the serve command's wiring (real stores)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from overlay.cli import _register, app
from overlay.commands import serve


def _doctor(env: dict[str, str]) -> tuple[int, dict]:
    _register()
    result = CliRunner().invoke(app, ["doctor", "--json", "--skip-model"], env=env)
    return result.exit_code, json.loads(result.stdout)


def test_doctor_reports_every_check_and_fails_on_a_dead_store(data_dir: Path) -> None:
    code, rows = _doctor({"OVERLAY_DATA_DIR": str(data_dir)})
    assert code == 0, rows
    assert set(rows) == {"redis", "key layout", "chroma", "embedder", "reader"}
    assert all(r["ok"] for r in rows.values()) and "dim=384" in rows["embedder"]["detail"]
    assert rows["reader"]["detail"] == "judge reader-strict, reader reader"
    broken = {
        "OVERLAY_DATA_DIR": str(data_dir),
        "OVERLAY_REDIS_URL": "redis://127.0.0.1:1/0",
        "OVERLAY_EMBEDDER": str(data_dir / "no-such-embedder"),
        "OVERLAY_ANSWER__READER_JUDGE": "nope",
    }
    code, rows = _doctor(broken)
    assert code == 1
    assert rows["redis"]["ok"] is False and "not reachable" in rows["redis"]["detail"]
    assert rows["embedder"]["ok"] is False and rows["chroma"]["ok"] is True
    assert (
        rows["reader"]["ok"] is False and "OVERLAY_ANSWER__READER_JUDGE" in rows["reader"]["detail"]
    )


def test_serve_uses_the_app_factory_without_importing_api() -> None:
    import subprocess
    import sys

    assert serve.APP_FACTORY == "api.app:create_app"
    code = "import overlay.cli, overlay.commands.serve, sys; print('api' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
