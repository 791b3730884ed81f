"""The adapter registry ("armour"): one base model in memory, many LoRA adapters.

Adapters are loaded lazily into one PEFT wrapper around the serving model (at most
``max_loaded`` of them, least recently used first out). ``BaseModel.model`` keeps
pointing at the transformers model everyone calls: PEFT injects its LoRA layers
into that model in place, and the registry decides which adapter those layers use.

Switching cost. PEFT's ``set_adapter`` walks every module and toggles
``requires_grad`` (15-24 ms on SmolLM2). The registry instead keeps a precomputed
list of the LoRA layers and sets only their active-adapter name — a few
microseconds per layer. ``activate`` holds ``BaseModel.lock`` for the whole
request and restores the previous state on exit, so a request never sees another
request's adapter and code that runs the model without the registry runs the base.

Usage::

    registry = get_registry(services)
    with registry.activate("terse") as model:   # None = the base, adapters off
        out = model.generate(**inputs)
"""

from __future__ import annotations

import builtins
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memory.errors import AdapterNotFound, InvalidInput
from overlay.adapter_files import (
    AdapterInfo,
    AdapterSpec,
    adapter_dir,
    check_base,
    linear_shapes,
    list_adapters,
    load_weights,
    quiet_peft,
    read_spec,
    validate_name,
)
from overlay.model import BaseModel

BASE = "__base__"  # PEFT's name for "no adapter" in mixed-adapter batches


class AdapterRegistry:
    """Loads, switches and unloads LoRA adapters on one shared base model."""

    def __init__(self, base: BaseModel, root: Path, max_loaded: int = 8) -> None:
        if max_loaded < 1:
            raise InvalidInput("max_loaded_adapters must be at least 1")
        self.base = base
        self.root = Path(root)
        self.max_loaded = max_loaded
        self.peft: Any = None  # the PeftModel wrapping base.model, made on first load
        self._loaded: OrderedDict[str, AdapterSpec] = OrderedDict()
        self._layers: list[Any] = []  # every LoRA layer: what a switch touches
        self._active: str | None = None
        self._mixed = False
        self._shapes: dict[str, tuple[int, int]] | None = None
        self._meta = threading.Lock()
        self.load_ms: dict[str, float] = {}

    # --- inspection -------------------------------------------------------------
    def list(self) -> builtins.list[AdapterInfo]:
        """Every adapter on disk with name, rank, targets, size, base model, loaded."""
        with self._meta:
            loaded = frozenset(self._loaded)
        return list_adapters(self.root, loaded)

    @property
    def loaded(self) -> builtins.list[str]:
        """Loaded adapter names, least recently used first."""
        with self._meta:
            return list(self._loaded)

    @property
    def active(self) -> str | None:
        return self._active

    def exists(self, name: str) -> bool:
        try:
            adapter_dir(self.root, name)
        except AdapterNotFound:
            return False
        return True

    # --- loading ----------------------------------------------------------------
    def load(self, name: str) -> AdapterSpec:
        """Load adapter ``name`` (validated) if it is not loaded yet; mark it recently used."""
        validate_name(name)
        with self.base.lock:
            if name in self._loaded:
                with self._meta:
                    self._loaded.move_to_end(name)
                return self._loaded[name]
            start = time.perf_counter()
            spec = read_spec(self.root, name)
            check_base(spec, self.base.name, self.base.model)
            if self._shapes is None:
                self._shapes = linear_shapes(self.base.model)
            weights = load_weights(spec, self._shapes)
            self._evict(keep=self.max_loaded - 1)
            self._inject(spec, weights)
            with self._meta:
                self._loaded[name] = spec
            self.load_ms[name] = (time.perf_counter() - start) * 1000
            return spec

    def _inject(self, spec: AdapterSpec, weights: dict[str, Any]) -> None:
        from peft import get_peft_model, set_peft_model_state_dict

        dtype = next(self.base.model.parameters()).dtype
        weights = {k: v.to(dtype) for k, v in weights.items()}
        config = spec.lora_config()
        if self.peft is None:
            with quiet_peft():
                self.peft = get_peft_model(
                    self.base.model, config, adapter_name=spec.name, low_cpu_mem_usage=True
                )
        else:
            self.peft.add_adapter(spec.name, config, low_cpu_mem_usage=True)
        try:
            result: Any = set_peft_model_state_dict(
                self.peft, weights, adapter_name=spec.name, low_cpu_mem_usage=True
            )
            missing = [k for k in result.missing_keys if f".{spec.name}." in k]
            if missing:
                raise InvalidInput(f"adapter {spec.name!r}: missing weights, e.g. {missing[0]}")
        except Exception:
            self.peft.delete_adapter(spec.name)
            self._refresh_layers()
            raise
        self.peft.eval()
        self._refresh_layers()

    def _refresh_layers(self) -> None:
        from peft.tuners.lora import LoraLayer

        self._layers = [m for m in self.base.model.modules() if isinstance(m, LoraLayer)]
        for layer in self._layers:
            for param in layer.parameters():
                param.requires_grad_(False)
        self._active, self._mixed = "\0", False  # unknown: force the next switch
        self._switch(None)

    def _evict(self, keep: int) -> None:
        while len(self._loaded) > keep:
            victim = next(iter(self._loaded))
            self.unload(victim)

    def unload(self, name: str) -> bool:
        """Take adapter ``name`` out of memory (the folder stays). False if it was not loaded."""
        with self.base.lock:
            if name not in self._loaded:
                return False
            if name == self._active:
                raise InvalidInput(f"adapter {name!r} is in use")
            self.peft.delete_adapter(name)
            with self._meta:
                del self._loaded[name]
            self._refresh_layers()
            return True

    delete_adapter = unload  # PEFT's vocabulary

    def remove(self, name: str) -> None:
        """Unload adapter ``name`` and delete its folder from the adapters dir."""
        import shutil

        path = adapter_dir(self.root, name)
        with self.base.lock:
            self.unload(name)
            shutil.rmtree(path)

    # --- switching --------------------------------------------------------------
    def _switch(self, name: str | None) -> None:
        """Point every LoRA layer at ``name`` (None: adapters off). Caller holds the lock."""
        if name == self._active and not self._mixed:
            return
        if name is None:
            for layer in self._layers:
                layer._disable_adapters = True
        else:
            names = [name]
            for layer in self._layers:
                layer._active_adapter = names
                layer._disable_adapters = False
        if self.peft is not None:
            self.peft.base_model.active_adapter = name if name is not None else []
        self._active, self._mixed = name, False

    @contextmanager
    def activate(self, name: str | None) -> Iterator[Any]:
        """Hold the model lock, wear adapter ``name`` (None = base) and yield the model.

        An unknown name raises ``AdapterNotFound``; the previous state is restored on exit.
        """
        with self.base.lock:
            if name is not None:
                self.load(name)
            before, was_mixed = self._active, self._mixed
            self._switch(name)
            try:
                yield self.base.model
            finally:
                if was_mixed:
                    self._enable_all()
                else:
                    self._switch(before)

    def _enable_all(self) -> None:
        for layer in self._layers:
            layer._disable_adapters = False
        self._mixed = True

    @contextmanager
    def activate_mixed(self, names: Sequence[str | None]) -> Iterator[tuple[Any, list[str]]]:
        """Mixed-adapter batch: yield ``(peft_model, adapter_names)`` for ``adapter_names=``.

        ``names`` has one entry per batch row (None = base). Call the yielded PEFT model
        with ``adapter_names=`` so each row wears its own adapter in one forward pass.
        """
        with self.base.lock:
            for name in dict.fromkeys(n for n in names if n is not None):
                self.load(name)
            rows = [BASE if n is None else n for n in names]
            if self.peft is None:  # nothing loaded: every row is the base
                yield self.base.model, rows
                return
            before = self._active
            self._enable_all()
            try:
                yield self.peft, rows
            finally:
                self._active = "\0"
                self._switch(before)


def get_registry(services: Any) -> AdapterRegistry:
    """The process-wide registry on the shared base model (``services.shared('adapters')``)."""
    from overlay.model import get_model  # type: ignore[attr-defined]

    settings = services.settings
    base = get_model(services)  # outside shared(): its lock is not re-entrant
    return services.shared(  # type: ignore[no-any-return]
        "adapters",
        lambda: AdapterRegistry(base, settings.adapters_path, settings.max_loaded_adapters),
    )
