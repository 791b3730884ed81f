"""The CLI's per-invocation state: settings and services, built lazily by the commands
that need them (``overlay --help`` builds neither)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from memory.errors import InvalidInput
from overlay.services import Services, build_services
from overlay.settings import Settings, load_settings


class CliState:
    """Lazily built settings and services shared by the commands of one invocation."""

    def __init__(self, config: Path | None, data_dir: Path | None) -> None:
        self.config = config
        self.data_dir = data_dir
        self._settings: Settings | None = None
        self._services: Services | None = None

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
            self._services = build_services(self.settings)
        return self._services

    def close(self) -> None:
        if self._services is not None:
            self._services.close()


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        raise InvalidInput("internal: CLI state missing")
    return obj
