"""The docs agree with the code: the settings page is current, every setting says what it is
for, the README stays a front door, and every relative link points at a file that exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _settings_doc() -> ModuleType:
    path = ROOT / "scripts" / "settings_doc.py"
    spec = importlib.util.spec_from_file_location("settings_doc", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_page_is_current() -> None:
    doc = _settings_doc()
    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == doc.render(), f"docs/settings.md is stale: run `{doc.COMMAND}`"


def test_every_setting_says_what_it_is_for() -> None:
    missing = _settings_doc().undescribed()
    assert not missing, f"settings without Field(description=...): {', '.join(missing)}"


def test_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) < 10_000, "README.md is over 10 KB: move detail into docs/"
    assert "./quickstart.sh test" in readme
    assert "./quickstart.sh test -q" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_relative_links_resolve() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert not broken, "links to missing files: " + "; ".join(broken)
