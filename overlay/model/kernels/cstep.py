"""A decoded token in one C call: the whole Llama step compiled for this CPU.

With the one-row kernel (``overlay.model.kernels.gemv``) the weights streamed at llama.cpp's rate,
yet a token still cost ~24 ms against llama.cpp's ~17: some 1,500 small torch operations a
token (norms, rotary, attention, residuals) and their Python around 30 layers. This runs the
same step — ``overlay.model.kernels.csrc``'s ``overlay_llama_step`` — in one call over the same KV
buffers that the torch prefill filled.

It runs only where the result is the fp32 step torch would take: Llama layout without biases,
SiLU, every linear a plain weight or a LoRA layer wearing no adapter or ONE vanilla LoRA
adapter (fp32 A and B of one rank; the step adds ``B (A x) · scaling`` as PEFT's layer does:
the reader adapter's tokens went from ~85 to ~45 ms), one torch thread, the kernel library
loaded. Anything else — two adapters worn, DoRA, bf16 decode, another architecture — steps
through ``overlay.model.lean``.
"""

from __future__ import annotations

import ctypes
from typing import Any

import torch

from overlay.model.kernels import gemv
from overlay.model.lean import KV, LeanLlama
from overlay.model.numeric import path_of


class _Cfg(ctypes.Structure):
    _longs = ("layers", "hidden", "heads", "kv_heads", "head_dim", "inter", "capacity")
    _fields_ = [(n, ctypes.c_long) for n in _longs]
    _fields_ += [("eps", ctypes.c_float), ("scale", ctypes.c_float)]


def _base_weight(module: Any) -> torch.Tensor | None:
    """The weight ``module`` multiplies by when no adapter is worn (the caller checked that
    with ``runner.active_adapters``); None where that is not one plain fp32 matrix."""
    if getattr(module, "merged", False):
        return None  # an adapter folded into the weight is not the base
    layer = module if isinstance(module, torch.nn.Linear) else getattr(module, "base_layer", None)
    if not isinstance(layer, torch.nn.Linear):
        return None
    w = layer.weight
    if layer.bias is not None or w.dtype != torch.float32 or not w.is_contiguous():
        return None
    return w


class CStep:
    """``overlay_llama_step`` bound to one model and one KV cache."""

    def __init__(self, fn: Any, lean: LeanLlama, kv: KV, weights: list[torch.Tensor],
                 eps: float, inter: int, lora: Lora | None = None) -> None:  # fmt: skip
        self.fn, self.lean, self.kv = fn, lean, kv
        self._keep = weights, lora  # the pointers below point into these
        self.embed = lean.body.embed_tokens.weight
        self.norm = lean.body.norm.weight
        hidden = self.embed.shape[1]
        self.cfg = _Cfg(len(lean.layers), hidden, lean.n_heads, lean.n_kv, lean.head_dim,
                        inter, kv.capacity, eps, lean.scaling)  # fmt: skip
        self.w = (ctypes.c_void_p * len(weights))(*(w.data_ptr() for w in weights))
        self.k = (ctypes.c_void_p * len(kv.keys))(*(t.data_ptr() for t in kv.keys))
        self.v = (ctypes.c_void_p * len(kv.values))(*(t.data_ptr() for t in kv.values))
        self.x = torch.empty(hidden, dtype=torch.float32)
        kv_dim = lean.n_kv * lean.head_dim
        rank = lora.rank if lora else 0
        self.scratch = torch.empty(4 * hidden + 2 * kv_dim + 3 * inter + kv.capacity + rank)
        self.lora = (lora.pointers() if lora else (None, None, None)) + (ctypes.c_long(rank),)
        self.cos = lean._cos.contiguous()
        self.sin = lean._sin.contiguous()

    def __call__(self, token: int) -> torch.Tensor:
        """The final-norm hidden state (1, H) after ``token``; extends the KV cache."""
        pos = self.kv.length
        if pos >= self.kv.capacity:
            raise ValueError(f"KV capacity {self.kv.capacity} exceeded ({pos + 1} positions)")
        self.x.copy_(self.embed[token])
        d = self.lean.head_dim
        self.fn(ctypes.byref(self.cfg), self.w, ctypes.c_void_p(self.norm.data_ptr()), self.k,
                self.v, ctypes.c_long(pos), ctypes.c_void_p(self.cos.data_ptr() + pos * d * 4),
                ctypes.c_void_p(self.sin.data_ptr() + pos * d * 4),
                ctypes.c_void_p(self.x.data_ptr()),
                ctypes.c_void_p(self.scratch.data_ptr()), *self.lora)  # fmt: skip
        self.kv.length = pos + 1
        return self.x.view(1, -1)


class Lora:
    """The worn adapter's A and B of every linear (None where a layer has none) and scalings,
    7 a layer in the step's order (q, k, v, o, gate, up, down)."""

    def __init__(self, a: list[torch.Tensor | None], b: list[torch.Tensor | None],
                 scale: list[float], rank: int) -> None:  # fmt: skip
        self.a, self.b, self.rank = a, b, rank
        self.scale = torch.tensor(scale, dtype=torch.float32)

    def pointers(self) -> tuple[Any, Any, Any]:
        """The step's ``la``, ``lb`` and ``ls`` arguments (NULL where a layer has none)."""
        a, b = ([t.data_ptr() if t is not None else None for t in ts] for ts in (self.a, self.b))
        arrays = ((ctypes.c_void_p * len(a))(*a), (ctypes.c_void_p * len(b))(*b))
        return *arrays, ctypes.c_void_p(self.scale.data_ptr())


def _linears(layer: Any) -> tuple[Any, ...]:
    """A decoder layer's linears in the step's order: q, k, v, o, gate, up, down."""
    attn, mlp = layer.self_attn, layer.mlp
    return (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj,
            mlp.gate_proj, mlp.up_proj, mlp.down_proj)  # fmt: skip


def _lora(lean: LeanLlama, name: str) -> Lora | None:
    """Adapter ``name``'s LoRA weights for the step, or None where the step cannot add them
    (not vanilla LoRA, not fp32 and contiguous, ranks that differ, dropout in training)."""
    a: list[torch.Tensor | None] = []
    b: list[torch.Tensor | None] = []
    scale: list[float] = []
    ranks = set()
    for layer in lean.layers:
        for m in _linears(layer):
            la, lb = getattr(m, "lora_A", {}), getattr(m, "lora_B", {})
            if name not in la:
                a += [None]
                b += [None]
                scale += [0.0]
                continue
            wa, wb = la[name].weight, lb[name].weight
            plain = not m.use_dora.get(name) and not m.lora_bias.get(name)
            drop = m.lora_dropout[name]  # in eval mode a Dropout passes x through
            idle = isinstance(drop, torch.nn.Identity) or (
                isinstance(drop, torch.nn.Dropout) and (drop.p == 0 or not drop.training)
            )
            if (
                not plain
                or not idle
                or any(t.dtype != torch.float32 or not t.is_contiguous() for t in (wa, wb))
            ):
                return None
            ranks.add(wa.shape[0])
            a += [wa]
            b += [wb]
            scale += [float(m.scaling[name])]
    if len(ranks) != 1:
        return None
    return Lora(a, b, scale, ranks.pop())


def c_step(lean: LeanLlama, kv: KV, adapters: tuple[str, ...]) -> CStep | None:
    """The compiled step for ``lean`` over ``kv``, or None where it does not apply
    (``adapters``: what the LoRA layers wear now, ``runner.active_adapters``)."""
    fn = gemv.step_function()
    cfg = lean.inner.config
    if (
        fn is None
        or len(adapters) > 1
        or torch.get_num_threads() != 1
        or lean.dtype != torch.float32
        or lean.device.type != "cpu"
        or path_of(lean.inner).decode != "fp32"
        or getattr(cfg, "model_type", "") not in {"llama", "mistral"}
        or getattr(cfg, "hidden_act", "") != "silu"
        or lean.n_heads * lean.head_dim != cfg.hidden_size
        or lean.n_heads % lean.n_kv
        or lean._cos.dtype != torch.float32
        or lean.body.norm.weight.dtype != torch.float32
    ):
        return None
    weights: list[torch.Tensor] = []
    for layer in lean.layers:
        linears = _linears(layer)
        parts = [
            layer.input_layernorm.weight,
            *(_base_weight(m) for m in linears[:4]),
            layer.post_attention_layernorm.weight,
            *(_base_weight(m) for m in linears[4:]),
        ]
        if any(p is None or not p.is_contiguous() for p in parts):
            return None
        weights += [p for p in parts if p is not None]
    if not lean.body.embed_tokens.weight.is_contiguous():
        return None
    lora = _lora(lean, adapters[0]) if adapters else None
    if adapters and lora is None:
        return None
    eps = float(getattr(cfg, "rms_norm_eps", 1e-6))
    return CStep(fn, lean, kv, weights, eps, int(cfg.intermediate_size), lora)
