"""The adapter registry ("armour"): one base model in memory, many LoRA adapters.

Adapters are loaded lazily into one PEFT wrapper around the serving model (at most
``max_loaded`` of them, least recently used first out). ``BaseModel.model`` keeps
pointing at the transformers model everyone calls: PEFT injects its LoRA layers
into that model in place, and the registry decides which adapter those layers use.

Switching cost. PEFT's ``set_adapter`` walks every module and toggles
``requires_grad`` (15-24 ms on SmolLM2). Here every LoRA layer reads its active
adapter from one shared list, so a switch is a single list assignment (see
``overlay.adapters.layers``), and adapters after the first are added straight into
the existing LoRA layers instead of through PEFT's module walk. ``activate`` holds
``BaseModel.lock`` for the whole request and restores the previous state on exit,
so a request never sees another request's adapter, and code that runs the model
without the registry runs the base.

Usage::

    with services.adapters.activate("terse") as model:   # None = the base, adapters off
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
from overlay.adapters.builtin import BUILTIN_ROOT, list_all, root_for
from overlay.adapters.files import (
    AdapterInfo,
    AdapterSpec,
    adapter_dir,
    check_base,
    linear_shapes,
    load_weights,
    quiet_peft,
    read_spec,
    validate_name,
)
from overlay.adapters.layers import (
    add_to_layers,
    can_add,
    delete_from_layers,
    group_weights,
    link,
    lora_layers,
)
from overlay.model.base import BaseModel

BASE = "__base__"  # PEFT's name for "no adapter" in mixed-adapter batches


class AdapterRegistry:
    """Loads, switches and unloads LoRA adapters on one shared base model."""

    def __init__(
        self, base: BaseModel, root: Path, max_loaded: int = 8, builtin_root: Path = BUILTIN_ROOT
    ) -> None:
        if max_loaded < 1:
            raise InvalidInput("max_loaded_adapters must be at least 1")
        self.base = base
        self.root = Path(root)
        self.builtin_root = Path(builtin_root)  # shipped adapters; a user folder of a name wins
        self.max_loaded = max_loaded
        self.peft: Any = None  # the PeftModel wrapping base.model, made on first load
        self._loaded: OrderedDict[str, AdapterSpec] = OrderedDict()
        self._layers: dict[str, Any] = {}  # path → LoRA layer
        self._names: builtins.list[str] = []  # the active adapter list every layer shares
        self._active: str | None = None
        self._shapes: dict[str, tuple[int, int]] | None = None
        self._meta = threading.Lock()
        self.load_ms: dict[str, float] = {}

    # --- inspection -------------------------------------------------------------
    def list(self) -> builtins.list[AdapterInfo]:
        """Every adapter on disk with name, rank, targets, size, base model, loaded."""
        with self._meta:
            loaded = frozenset(self._loaded)
        return list_all(self.root, loaded, self.builtin_root)

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
            root_for(self.root, name, self.builtin_root)
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
            spec = read_spec(root_for(self.root, name, self.builtin_root), name)
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
        dtype = next(self.base.model.parameters()).dtype
        groups = group_weights({k: v.to(dtype) for k, v in weights.items()})
        if self.peft is not None and can_add(self._layers, groups):
            try:  # fast path: the layers are already wrapped
                add_to_layers(self._layers, spec, groups)
            except Exception:
                delete_from_layers(self._layers, spec.name)
                raise
            self.peft.peft_config[spec.name] = spec.lora_config()
            return
        try:
            self._inject_with_peft(spec, {k: v.to(dtype) for k, v in weights.items()})
        finally:
            self._refresh_layers()

    def _inject_with_peft(self, spec: AdapterSpec, weights: dict[str, Any]) -> None:
        """PEFT's own path, for the first adapter or one targeting layers not yet wrapped."""
        from peft import get_peft_model, set_peft_model_state_dict

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
            raise
        self.peft.eval()

    def _refresh_layers(self) -> None:
        """Re-list the LoRA layers and link them to the shared active-adapter list."""
        self._layers = lora_layers(self.base.model)
        link(self._layers, self._names)
        if self.peft is not None:
            self.peft.base_model.active_adapter = self._names

    def _evict(self, keep: int) -> None:
        while len(self._loaded) > keep:
            victim = next(n for n in self._loaded if n != self._active)
            self.unload(victim)

    def unload(self, name: str) -> bool:
        """Take adapter ``name`` out of memory (the folder stays). False if it was not loaded."""
        with self.base.lock:
            if name not in self._loaded:
                return False
            if name == self._active:
                raise InvalidInput(f"adapter {name!r} is in use")
            delete_from_layers(self._layers, name)
            del self.peft.peft_config[name]
            with self._meta:
                del self._loaded[name]
            return True

    delete_adapter = unload  # PEFT's vocabulary

    def remove(self, name: str) -> None:
        """Unload adapter ``name`` and delete its folder from the adapters dir.

        A built-in (shipped with the package) cannot be removed."""
        import shutil

        if root_for(self.root, name, self.builtin_root) == self.builtin_root:
            raise InvalidInput(f"adapter {name!r} is built in: it cannot be removed")

        path = adapter_dir(self.root, name)
        with self.base.lock:
            self.unload(name)
            shutil.rmtree(path)

    def close(self) -> None:
        """Unload every adapter and give the base model back its plain linear layers."""
        with self.base.lock:
            if self.peft is not None:
                self.peft.unload()
                self.base.model.__dict__.pop("peft_config", None)
            with self._meta:
                self._loaded.clear()
            self.peft, self._layers, self._active = None, {}, None
            self._names.clear()

    # --- switching --------------------------------------------------------------
    def _switch(self, name: str | None) -> None:
        """Make ``name`` the active adapter of every LoRA layer (None: the base). O(1).

        All layers share ``self._names`` (see ``adapter_layers.link``). Caller holds the lock.
        """
        self._names[:] = () if name is None else (name,)
        self._active = name

    @contextmanager
    def activate(self, name: str | None) -> Iterator[Any]:
        """Hold the model lock, wear adapter ``name`` (None = base) and yield the model.

        An unknown name raises ``AdapterNotFound``; the previous state is restored on exit.
        """
        with self.base.lock:
            if name is not None:
                self.load(name)
            before = self._active
            self._switch(name)
            try:
                yield self.base.model
            finally:
                self._switch(before)

    @contextmanager
    def activate_mixed(
        self, names: Sequence[str | None]
    ) -> Iterator[tuple[Any, builtins.list[str]]]:
        """Mixed-adapter batch: yield ``(peft_model, adapter_names)`` for ``adapter_names=``.

        ``names`` has one entry per batch row (None = base). Call the yielded PEFT model
        with ``adapter_names=`` so each row wears its own adapter in one forward pass.
        """
        with self.base.lock:
            unique = list(dict.fromkeys(n for n in names if n is not None))
            if len(unique) > self.max_loaded:
                raise InvalidInput(f"a batch may use at most {self.max_loaded} adapters")
            for name in unique:
                self.load(name)
            rows = [BASE if n is None else n for n in names]
            yield (self.peft if self.peft is not None else self.base.model), rows
