"""Adapter folders on disk: names, validated configs, weight checks and the card.

An adapter is a folder ``<adapters dir>/<name>/`` holding PEFT's
``adapter_config.json`` and ``adapter_model.safetensors`` (pickled ``.bin``
weights are refused), plus our optional ``adapter_card.json`` written by training.
Everything read from these files is treated as untrusted: the config is parsed
into a ``LoraConfig`` built from a whitelist of fields, and every weight is
checked against the loaded base model before PEFT sees it.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from memory.errors import AdapterNotFound, InvalidInput

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
CARD_FILE = "adapter_card.json"
MAX_CONFIG_BYTES = 64 * 1024
MAX_WEIGHTS_BYTES = 1 << 30
MAX_RANK = 512
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Fields we read; every other LoraConfig field must keep a harmless (empty) value.
_USED = {"r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "task_type"}
_IGNORED = {
    "peft_type", "peft_version", "base_model_name_or_path", "inference_mode", "revision",
    "init_lora_weights", "megatron_core", "qalora_group_size", "auto_mapping", "bias",
    "fan_in_fan_out", "ensure_weight_tying",
}  # fmt: skip
_KEY = re.compile(r"^base_model\.model\.(?P<module>[A-Za-z0-9_.]+)\.lora_(?P<ab>[AB])\.weight$")


@dataclass(frozen=True)
class AdapterSpec:
    """A validated adapter config (what we need of PEFT's ``adapter_config.json``)."""

    name: str
    path: Path
    rank: int
    alpha: float
    dropout: float
    target_modules: tuple[str, ...]
    use_rslora: bool
    base_model: str | None

    def lora_config(self) -> Any:
        """The PEFT ``LoraConfig`` built only from validated fields."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,  # type: ignore[arg-type]  # a float works
            lora_dropout=self.dropout,
            target_modules=list(self.target_modules),
            use_rslora=self.use_rslora,
            task_type="CAUSAL_LM",
            base_model_name_or_path=self.base_model,
            inference_mode=True,
        )


@dataclass(frozen=True)
class AdapterInfo:
    """One row of ``overlay adapters list``."""

    name: str
    rank: int | None
    target_modules: list[str]
    size_bytes: int
    base_model: str | None
    loaded: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def quiet_peft() -> Iterator[None]:
    """Silence PEFT's notes on wrapping (the base's local path replaces our base name)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*base_model_name_or_path.*")
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        yield


def validate_name(name: str) -> str:
    """An adapter name is a plain folder name: no paths, no dot-dot, no hidden files."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise InvalidInput(
            f"invalid adapter name {name!r}: use 1-64 letters, digits, '_', '-' or '.' "
            "(a folder name inside the adapters dir, not a path)"
        )
    return name


def adapter_dir(root: Path, name: str) -> Path:
    """The folder of adapter ``name``; ``AdapterNotFound`` (naming no path) if missing."""
    validate_name(name)
    path = root / name
    if not path.is_dir():
        raise AdapterNotFound(f"adapter {name!r} not found in the adapters dir", str(root))
    if path.resolve().parent != root.resolve():
        raise InvalidInput(f"adapter {name!r} is a link to outside the adapters dir")
    return path


def normalise_model_name(name: str | None) -> str:
    """``HuggingFaceTB/SmolLM2-135M-Instruct``, ``/x/smollm2-135m-instruct.gguf`` → one key."""
    base = re.split(r"[\\/]", (name or "").rstrip("/\\"))[-1].lower()
    for suffix in (".gguf", "-gguf", ".safetensors"):
        base = base.removesuffix(suffix)
    return re.sub(r"[-_.](q\d+_\w+|f16|f32|bf16)$", "", base)


def _load_json(path: Path, what: str) -> dict[str, Any]:
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise InvalidInput(f"{what} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must hold a JSON object")
    return data


def _number(cfg: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidInput(f"adapter_config.json: {key} must be a number in [{lo}, {hi}]")
    return float(value)


def _targets(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise InvalidInput(
            "adapter_config.json: target_modules must be a non-empty list of module names "
            "(regular-expression strings are not accepted)"
        )
    if not all(isinstance(m, str) and _MODULE.match(m) for m in value) or len(value) > 64:
        raise InvalidInput("adapter_config.json: target_modules must be plain module names")
    return tuple(sorted(set(value)))


def _check_unused(cfg: dict[str, Any]) -> None:
    if cfg.get("peft_type", "LORA") != "LORA":
        raise InvalidInput(f"adapter_config.json: peft_type {cfg.get('peft_type')!r} is not LORA")
    if cfg.get("bias", "none") != "none" or cfg.get("fan_in_fan_out", False):
        raise InvalidInput("adapter_config.json: only bias='none', fan_in_fan_out=false")
    for key, value in cfg.items():
        if key in _USED or key in _IGNORED:
            continue
        if value not in (None, False, {}, [], "", 0):
            raise InvalidInput(f"adapter_config.json: unsupported field {key}={value!r}")


def read_spec(root: Path, name: str) -> AdapterSpec:
    """Read and validate adapter ``name``'s config and weight file (not yet the tensors)."""
    path = adapter_dir(root, name)
    cfg_path, weights = path / CONFIG_FILE, path / WEIGHTS_FILE
    if not cfg_path.is_file():
        raise InvalidInput(f"adapter {name!r} has no {CONFIG_FILE}")
    if not weights.is_file():
        other = [p.name for p in path.glob("*.bin")]
        hint = f" (found {', '.join(other)}; pickled weights are refused)" if other else ""
        raise InvalidInput(f"adapter {name!r} has no {WEIGHTS_FILE}{hint}")
    if weights.stat().st_size > MAX_WEIGHTS_BYTES:
        raise InvalidInput(f"adapter {name!r}: {WEIGHTS_FILE} is too large")
    cfg = _load_json(cfg_path, f"{name}/{CONFIG_FILE}")  # no server path in messages
    _check_unused(cfg)
    rank = cfg.get("r", 8)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= MAX_RANK:
        raise InvalidInput(f"adapter_config.json: r must be an integer in [1, {MAX_RANK}]")
    base = cfg.get("base_model_name_or_path")
    if base is not None and (not isinstance(base, str) or len(base) > 512):
        raise InvalidInput("adapter_config.json: base_model_name_or_path must be a string")
    if not isinstance(cfg.get("use_rslora", False), bool):
        raise InvalidInput("adapter_config.json: use_rslora must be true or false")
    return AdapterSpec(
        name=name,
        path=path,
        rank=rank,
        alpha=_number(cfg, "lora_alpha", 8, 1e-6, 1e6),
        dropout=_number(cfg, "lora_dropout", 0.0, 0.0, 1.0),
        target_modules=_targets(cfg.get("target_modules")),
        use_rslora=bool(cfg.get("use_rslora", False)),
        base_model=base,
    )


def read_card(path: Path) -> dict[str, Any]:
    """Our training card, or ``{}`` when the adapter was made elsewhere."""
    card = path / CARD_FILE
    return _load_json(card, f"{path.name}/{CARD_FILE}") if card.is_file() else {}


def write_card(path: Path, card: dict[str, Any]) -> None:
    (path / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")


def base_fingerprint(model: Any) -> str:
    """Architecture key of a transformers model: type, width, depth, vocabulary."""
    c = model.config
    return f"{c.model_type}:{c.hidden_size}:{c.num_hidden_layers}:{c.vocab_size}"


def check_base(spec: AdapterSpec, base_name: str, model: Any) -> None:
    """The adapter must have been made for this base model (by name and by architecture)."""
    card = read_card(spec.path)
    fingerprint = card.get("base_fingerprint")
    if fingerprint is not None and fingerprint != base_fingerprint(model):
        raise InvalidInput(
            f"adapter {spec.name!r} was trained for {fingerprint}, "
            f"the loaded base is {base_fingerprint(model)}"
        )
    if spec.base_model and normalise_model_name(spec.base_model) != normalise_model_name(base_name):
        raise InvalidInput(
            f"adapter {spec.name!r} was made for base model {spec.base_model!r}, "
            f"but the loaded base is {base_name!r}"
        )


def linear_shapes(model: Any) -> dict[str, tuple[int, int]]:
    """``module path → (in_features, out_features)`` of every linear layer of the base."""
    import torch

    shapes: dict[str, tuple[int, int]] = {}
    for path, module in model.named_modules():
        base = module.get_base_layer() if hasattr(module, "get_base_layer") else module
        if isinstance(base, torch.nn.Linear) and ".lora_" not in path:
            shapes[path] = (base.in_features, base.out_features)
    return shapes


def load_weights(spec: AdapterSpec, shapes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Read the safetensors file and check every tensor against the base's linear layers."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(spec.path / WEIGHTS_FILE))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InvalidInput(f"adapter {spec.name!r}: unreadable {WEIGHTS_FILE}: {exc}") from exc
    if not tensors:
        raise InvalidInput(f"adapter {spec.name!r}: {WEIGHTS_FILE} holds no tensors")
    present = {p.rsplit(".", 1)[-1] for p in shapes}
    missing = [m for m in spec.target_modules if m not in present]
    if missing:
        raise InvalidInput(f"adapter {spec.name!r}: target modules {missing} not in the base")
    for key, tensor in tensors.items():
        _check_tensor(spec, shapes, key, tuple(tensor.shape), tensor.is_floating_point())
    return tensors


def _check_tensor(
    spec: AdapterSpec, shapes: dict[str, tuple[int, int]], key: str, shape: tuple, fp: bool
) -> None:
    m = _KEY.match(key)
    if m is None or not fp:
        raise InvalidInput(f"adapter {spec.name!r}: unexpected tensor {key!r}")
    module = m["module"]
    if module not in shapes or module.rsplit(".", 1)[-1] not in spec.target_modules:
        raise InvalidInput(f"adapter {spec.name!r}: {module!r} is not a target layer of the base")
    fan_in, fan_out = shapes[module]
    want = (spec.rank, fan_in) if m["ab"] == "A" else (fan_out, spec.rank)
    if shape != want:
        raise InvalidInput(
            f"adapter {spec.name!r}: {key} has shape {list(shape)}, the base needs {list(want)}"
        )


def describe(root: Path, name: str, loaded: bool = False) -> AdapterInfo:
    """List row for one folder; a broken adapter is listed with its error, not hidden."""
    path = root / name
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    try:
        spec = read_spec(root, name)
    except InvalidInput as exc:
        return AdapterInfo(name, None, [], size, None, loaded, exc.message)
    return AdapterInfo(
        name, spec.rank, list(spec.target_modules), size, spec.base_model, loaded, None
    )


def list_adapters(root: Path, loaded: set[str] | frozenset[str] = frozenset()) -> list[AdapterInfo]:
    """Every adapter folder under ``root``, sorted by name (no model needed)."""
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and _NAME.match(p.name))
    return [describe(root, n, n in loaded) for n in names]
