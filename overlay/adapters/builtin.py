"""Built-in adapters: shipped inside the package, found beside the user's adapters dir.

A built-in lives in ``overlay/builtin_adapters/NAME`` (package data). Lookup by name tries
the user's adapters dir first, then the built-ins: **a user folder of the same name wins**,
so ``overlay adapters train reader --data …`` replaces the shipped reader for that data dir
without touching the package. Built-ins are read-only: ``remove`` refuses them.
"""

from __future__ import annotations

from pathlib import Path

from memory.errors import AdapterNotFound
from overlay.adapters.files import AdapterInfo, adapter_dir, list_adapters, validate_name

BUILTIN_ROOT = Path(__file__).resolve().parent.parent / "builtin_adapters"
READER = "reader"  # the built-in reader: emits the short answer span of a passage


def root_for(user_root: Path, name: str, builtin_root: Path = BUILTIN_ROOT) -> Path:
    """The folder that holds adapter ``name``: the user's dir if it has one, else the
    built-ins; ``AdapterNotFound`` if neither does."""
    validate_name(name)
    for root in (Path(user_root), builtin_root):
        if (root / name).is_dir():
            adapter_dir(root, name)  # refuses links out of the root
            return root
    raise AdapterNotFound(f"adapter {name!r} not found")


def is_builtin(user_root: Path, name: str, builtin_root: Path = BUILTIN_ROOT) -> bool:
    """Whether ``name`` resolves to a built-in (no user folder shadows it)."""
    return root_for(user_root, name, builtin_root) == builtin_root


def list_all(
    user_root: Path,
    loaded: set[str] | frozenset[str] = frozenset(),
    builtin_root: Path = BUILTIN_ROOT,
) -> list[AdapterInfo]:
    """The user's adapters and the built-ins they do not shadow, sorted by name."""
    mine = list_adapters(Path(user_root), loaded)
    names = {a.name for a in mine}
    shipped = [a for a in list_adapters(builtin_root, loaded) if a.name not in names]
    return sorted([*mine, *shipped], key=lambda a: a.name)
