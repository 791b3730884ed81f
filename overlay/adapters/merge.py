"""Merge an adapter into a standalone model folder (``overlay adapters merge NAME --out DIR``).

The merge runs on a private copy of the base weights (the serving model is never
modified in place): the adapter is loaded with the same validation as the
registry, folded into the linear weights with PEFT's ``merge_and_unload`` and
saved as a plain transformers folder (safetensors + tokenizer) that loads with
``AutoModelForCausalLM.from_pretrained`` and needs no PEFT at all.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory.errors import Conflict, InvalidInput
from overlay.adapters.files import (
    check_base,
    linear_shapes,
    load_weights,
    quiet_peft,
    read_card,
    read_spec,
)
from overlay.adapters.train import clean_copy
from overlay.model.base import BaseModel

MERGE_CARD = "overlay_merge.json"


@dataclass(frozen=True)
class MergeResult:
    name: str
    out: Path
    base_model: str
    seconds: float
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapter": self.name,
            "out": str(self.out),
            "base_model": self.base_model,
            "seconds": round(self.seconds, 3),
            "size_bytes": self.size_bytes,
        }


def merged_model(base: BaseModel, root: Path, name: str) -> Any:
    """A new transformers model: a copy of the base with adapter ``name`` folded in."""
    from peft import get_peft_model, set_peft_model_state_dict

    spec = read_spec(root, name)
    check_base(spec, base.name, base.model)
    model = clean_copy(base)
    weights = load_weights(spec, linear_shapes(model))
    dtype = next(model.parameters()).dtype
    with quiet_peft():
        peft = get_peft_model(model, spec.lora_config(), adapter_name=name, low_cpu_mem_usage=True)
    set_peft_model_state_dict(
        peft, {k: v.to(dtype) for k, v in weights.items()}, adapter_name=name,
        low_cpu_mem_usage=True,
    )  # fmt: skip
    merged = peft.merge_and_unload()
    merged.__dict__.pop("peft_config", None)
    return merged.eval()


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists():
        if not out.is_dir():
            raise InvalidInput(f"--out {out} exists and is not a folder")
        if any(out.iterdir()) and not overwrite:
            raise Conflict(f"--out {out} is not empty (pass --force to replace it)")


def merge_adapter(
    base: BaseModel, root: Path, name: str, out: Path, overwrite: bool = False
) -> MergeResult:
    """Write base + adapter ``name`` as a standalone transformers folder at ``out``."""
    out = out.expanduser().resolve()
    if root.resolve() in (out, *out.parents):
        raise InvalidInput("--out must not be inside the adapters dir")
    _prepare_out(out, overwrite)
    start = time.perf_counter()
    model = merged_model(base, root, name)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for param in model.parameters():  # the decode layout (column-major) saves as rows
        if not param.is_contiguous():
            param.data = param.data.contiguous()
    model.save_pretrained(tmp, safe_serialization=True)
    base.tokenizer.save_pretrained(tmp)
    card = {"base_model": base.name, "adapter": name, "adapter_card": read_card(root / name)}
    (tmp / MERGE_CARD).write_text(json.dumps(card, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    return MergeResult(name, out, base.name, time.perf_counter() - start, size)
