"""Train a LoRA adapter on a JSONL file; the serving base is never touched.

Each line is ``{"messages": [{"role", "content"}, …]}`` or
``{"prompt": …, "completion": …}``. Examples are rendered with the tokenizer's
chat template (the same one the answer path uses); the loss covers only the
assistant's tokens. Training runs on a private copy of the base weights with
only the LoRA matrices trainable, then writes a PEFT folder
(``adapter_config.json`` + ``adapter_model.safetensors``) and ``adapter_card.json``.
All data is checked before the first step, so bad data fails in milliseconds.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory.errors import Conflict, InvalidInput
from overlay.adapters.data import IGNORE, Encoded, encode_all, read_examples
from overlay.adapters.files import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    base_fingerprint,
    linear_shapes,
    quiet_peft,
    validate_name,
    write_card,
)
from overlay.model.base import BaseModel


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run."""

    rank: int = 8
    alpha: float | None = None  # default 2 × rank
    steps: int = 60
    lr: float = 1e-3
    batch_size: int = 4
    max_tokens: int = 512
    seed: int = 0
    target_modules: tuple[str, ...] | None = None  # default: every linear layer but lm_head


@dataclass
class TrainResult:
    name: str
    path: Path
    steps: int
    examples: int
    final_loss: float
    data_sha256: str
    seconds: float
    losses: list[float] = field(default_factory=list)


def clean_copy(base: BaseModel) -> Any:
    """A private copy of the base model's weights without any LoRA layers (for training/merge)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    with base.lock:
        model = copy.deepcopy(base.model)
    for path, module in list(model.named_modules()):
        if isinstance(module, BaseTunerLayer) and path:
            parent_path, _, child = path.rpartition(".")
            parent = model.get_submodule(parent_path) if parent_path else model
            setattr(parent, child, module.get_base_layer())
    for attr in ("peft_config", "_hf_peft_config_loaded"):
        model.__dict__.pop(attr, None)
    # a GGUF-loaded model keeps a quantizer attached that refuses saving and training
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def default_targets(model: Any) -> tuple[str, ...]:
    """Every linear layer kind of the base except the output head."""
    names = {p.rsplit(".", 1)[-1] for p in linear_shapes(model)}
    return tuple(sorted(names - {"lm_head"}))


def _batch(rows: list[Encoded], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = [r[0] + [pad_id] * (width - len(r[0])) for r in rows]
    labels = [r[1] + [IGNORE] * (width - len(r[1])) for r in rows]
    mask = [[1] * len(r[0]) + [0] * (width - len(r[0])) for r in rows]
    return {
        "input_ids": torch.tensor(ids),  # (B, T)
        "labels": torch.tensor(labels),  # (B, T)
        "attention_mask": torch.tensor(mask),  # (B, T)
    }


def _lora_config(base: BaseModel, cfg: TrainConfig, targets: tuple[str, ...]) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha if cfg.alpha is not None else 2 * cfg.rank,  # type: ignore[arg-type]
        target_modules=list(targets),
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
        base_model_name_or_path=base.name,
    )


def _check_config(cfg: TrainConfig) -> None:
    if not 1 <= cfg.rank <= 256 or not 1 <= cfg.steps <= 100_000 or not 0 < cfg.lr < 1:
        raise InvalidInput("rank must be 1-256, steps 1-100000 and 0 < lr < 1")
    if cfg.batch_size < 1 or cfg.max_tokens < 8:
        raise InvalidInput("batch_size must be ≥ 1 and max_tokens ≥ 8")


def train_adapter(
    base: BaseModel,
    data: Path,
    name: str,
    root: Path,
    cfg: TrainConfig | None = None,
    progress: Callable[[int, float], None] | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Train adapter ``name`` on ``data`` and save it under ``root/name``."""
    import torch
    from peft import get_peft_model

    cfg = cfg or TrainConfig()
    _check_config(cfg)
    validate_name(name)
    out = root / name
    if out.exists() and not overwrite:
        raise Conflict(f"adapter {name!r} already exists (remove it first)")
    examples = read_examples(data)
    encoded = encode_all(base.tokenizer, examples, cfg.max_tokens)
    start = time.perf_counter()
    model = clean_copy(base)
    targets = cfg.target_modules or default_targets(model)
    torch.manual_seed(cfg.seed)
    with quiet_peft():
        peft = get_peft_model(model, _lora_config(base, cfg, targets))
    losses = _loop(peft, encoded, cfg, _pad_id(base.tokenizer), progress)
    sha = hashlib.sha256(data.read_bytes()).hexdigest()
    tail = losses[-max(1, min(5, len(losses))) :]
    result = TrainResult(
        name, out, cfg.steps, len(examples), sum(tail) / len(tail), sha,
        time.perf_counter() - start, losses,
    )  # fmt: skip
    _save(peft, base, cfg, targets, result, overwrite)
    return result


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    return int(pad if pad is not None else tokenizer.eos_token_id or 0)


def _loop(
    peft: Any,
    encoded: list[Encoded],
    cfg: TrainConfig,
    pad_id: int,
    progress: Callable[[int, float], None] | None,
) -> list[float]:
    import torch

    params = [p for p in peft.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    order: list[int] = []
    losses: list[float] = []
    peft.train()
    for step in range(1, cfg.steps + 1):
        if len(order) < cfg.batch_size:
            order += rng.sample(range(len(encoded)), len(encoded))
        rows = [encoded[order.pop()] for _ in range(min(cfg.batch_size, len(encoded)))]
        loss = peft(**_batch(rows, pad_id)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optim.step()
        optim.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step, losses[-1])
    peft.eval()
    return losses


def _save(
    peft: Any, base: BaseModel, cfg: TrainConfig, targets: tuple[str, ...],
    result: TrainResult, overwrite: bool,
) -> None:  # fmt: skip
    import peft as peft_lib
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    tmp = result.path.with_name(f".{result.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(peft).items()}
    save_file(state, str(tmp / WEIGHTS_FILE))
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": cfg.rank,
        "lora_alpha": cfg.alpha if cfg.alpha is not None else 2 * cfg.rank,
        "lora_dropout": 0.0, "target_modules": list(targets), "bias": "none",
        "use_rslora": False, "inference_mode": True, "base_model_name_or_path": base.name,
        "peft_version": peft_lib.__version__,
    }  # fmt: skip
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    write_card(tmp, {
        "base_model": base.name, "base_fingerprint": base_fingerprint(base.model),
        "data_sha256": result.data_sha256, "examples": result.examples, "steps": result.steps,
        "rank": cfg.rank, "lr": cfg.lr, "final_loss": round(result.final_loss, 5),
        "first_loss": round(result.losses[0], 5), "seconds": round(result.seconds, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })  # fmt: skip
    if result.path.exists() and overwrite:
        shutil.rmtree(result.path)
    tmp.rename(result.path)
