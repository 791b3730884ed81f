"""The CLI's per-invocation state: settings and services, built lazily by the commands
that need them (``overlay --help`` builds neither)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from memory.errors import InvalidInput
from overlay.commands.remote import Remote
from overlay.settings import Settings, load_settings

if TYPE_CHECKING:  # the stores, numpy and redis load only for commands that use them
    from overlay.services import Services


class CliState:
    """Lazily built settings and services shared by the commands of one invocation."""

    def __init__(self, config: Path | None, data_dir: Path | None) -> None:
        self.config = config
        self.data_dir = data_dir
        self._settings: Settings | None = None
        self._services: Services | None = None
        self._remote: Remote | None | bool = False  # False: not looked for yet

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            extra = {"data_dir": self.data_dir} if self.data_dir else {}
            cfg = self.config or os.environ.get("OVERLAY_CONFIG") or None
            self._settings = load_settings(cfg, **extra)
        return self._settings

    @property
    def services(self) -> Services:
        if self._services is None:
            from overlay.services import build_services

            self._services = build_services(self.settings)
        return self._services

    def remote(self) -> Remote | None:
        """A running ``overlay serve`` of this data dir for read-only commands, or None."""
        if self._remote is False:
            from overlay.commands.remote import find_server

            self._remote = (
                None if self._services is not None else find_server(self.settings.data_dir)
            )
        return self._remote if isinstance(self._remote, Remote) else None

    def close(self) -> None:
        if self._services is not None:
            self._services.close()


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        raise InvalidInput("internal: CLI state missing")
    return obj
