"""Direct manipulation of PEFT's LoRA layers, for loading and switching without a module walk.

PEFT's own paths (``add_adapter`` + ``set_peft_model_state_dict``, ``set_adapter``)
walk every module of the model several times and run weight initialisers only to
overwrite them: ~100-400 ms per adapter load and 15-24 ms per switch on SmolLM2.
Once the first adapter has been injected, every targeted linear layer already is
a ``LoraLayer``; a later adapter for the same layers only needs its ``lora_A`` /
``lora_B`` entries and scalars added to those layers, which is what ``add_to_layers``
does (the same per-layer state PEFT's ``update_layer`` writes for vanilla LoRA).

Switching: every LoRA layer's ``_active_adapter`` is linked to ONE shared list, so
making adapter ``x`` active is ``shared[:] = ["x"]`` — O(1), whatever the depth of
the model — and ``shared.clear()`` runs the base (a layer with no active adapter
adds nothing to its base output).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from overlay.adapters.files import AdapterSpec


def lora_layers(model: nn.Module) -> dict[str, Any]:
    """``module path → LoraLayer`` of every LoRA layer inside ``model``."""
    from peft.tuners.lora import LoraLayer

    return {path: m for path, m in model.named_modules() if isinstance(m, LoraLayer)}


def link(layers: dict[str, Any], shared: list[str]) -> None:
    """Make every layer read its active adapters from ``shared``; freeze all LoRA weights."""
    for layer in layers.values():
        layer.__dict__["_active_adapter"] = shared
        layer.__dict__["_disable_adapters"] = False
        for param in layer.parameters():
            param.requires_grad_(False)


def _frozen_linear(weight: torch.Tensor) -> nn.Linear:
    """An ``nn.Linear`` around ``weight`` (out, in) without running an initialiser."""
    module = nn.Linear.__new__(nn.Linear)
    nn.Module.__init__(module)
    module.in_features, module.out_features = weight.shape[1], weight.shape[0]
    module.weight = nn.Parameter(weight, requires_grad=False)
    module.register_parameter("bias", None)
    return module


def group_weights(weights: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """``base_model.model.<path>.lora_A.weight`` keys → ``{path: {"A": …, "B": …}}``."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        path, ab = key.removeprefix("base_model.model.").rsplit(".lora_", 1)
        groups.setdefault(path, {})[ab[0]] = tensor
    return groups


def can_add(layers: dict[str, Any], groups: dict[str, dict[str, torch.Tensor]]) -> bool:
    """True when every layer the adapter touches already is a LoRA layer (A and B given)."""
    return all(p in layers and set(g) == {"A", "B"} for p, g in groups.items())


def add_to_layers(
    layers: dict[str, Any], spec: AdapterSpec, groups: dict[str, dict[str, torch.Tensor]]
) -> None:
    """Add adapter ``spec.name`` to existing LoRA layers (vanilla LoRA, inference only)."""
    name, r, alpha = spec.name, spec.rank, spec.alpha
    scaling = alpha / math.sqrt(r) if spec.use_rslora else alpha / r
    for path, ab in groups.items():
        layer = layers[path]
        device = layer.get_base_layer().weight.device
        layer.r[name], layer.lora_alpha[name], layer.scaling[name] = r, alpha, scaling
        layer.use_rslora[name], layer.use_dora[name], layer.lora_bias[name] = (
            spec.use_rslora, False, False,
        )  # fmt: skip
        layer.lora_dropout[name] = nn.Identity()
        layer.lora_A[name] = _frozen_linear(ab["A"].to(device))
        layer.lora_B[name] = _frozen_linear(ab["B"].to(device))


def delete_from_layers(layers: dict[str, Any], name: str) -> None:
    """Remove adapter ``name`` from every layer (it must not be active)."""
    for layer in layers.values():
        layer.delete_adapter(name)
