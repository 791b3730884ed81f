"""The frozen base model: loading, freezing, and the one way to run it.

One ``BaseModel`` per process (``Services.model``). Every forward pass — scoring,
generation, adapter switching — runs while holding ``BaseModel.lock``, so requests with
different adapters never bleed into each other.

Sources (``settings.model``), all offline: the built-in ``smollm2-135m-instruct``
(fetched and converted once by ``overlay.model.pull``), a local transformers
folder with safetensors weights, a ``.gguf`` file (converted once and cached), or
a model id already in the local Hugging Face cache. ``trust_remote_code`` is never
on and pickle weights (``.bin``, ``.pt``) are refused.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory.errors import InvalidInput, NotFound
from overlay.model.numeric import NumericPath, choose_path, set_path
from overlay.model.pull import BUILTINS, convert_cached, is_converted, pull
from overlay.model.threads import available_cores, set_batch_threads
from overlay.model.threads import batch_threads as current_batch_threads
from overlay.settings import Settings

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass
class BaseModel:
    """A loaded, frozen causal LM with its tokenizer."""

    model: Any  # transformers PreTrainedModel (later possibly wrapped by a PeftModel)
    tokenizer: Any
    name: str
    device: str = "cpu"
    load_seconds: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)
    numeric: NumericPath = field(default_factory=NumericPath)
    threads: int = 0  # torch intra-op threads set at load (0: left as torch chose)
    gemv: str = "torch"  # what multiplies one row by a weight when decoding (model.kernels.gemv)


def resolve_model_source(settings: Settings) -> str:
    """The local folder (or cached hub id) to load ``settings.model`` from."""
    name = settings.model
    models_dir = settings.models_path
    if name in BUILTINS:
        folder = models_dir / name
        return str(folder if is_converted(folder) else pull(name, models_dir))
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise NotFound(f"GGUF file not found: {path}")
        return str(convert_cached(path.resolve(), models_dir))
    if path.is_dir():
        _check_safetensors(path)
        return str(path.resolve())
    if path.suffix.lower() in _PICKLE_SUFFIXES:
        raise InvalidInput(f"refusing pickle weights {path}: convert them to safetensors")
    return name  # a model id, looked up in the local Hugging Face cache only


def _check_safetensors(folder: Path) -> None:
    if any(folder.glob("*.safetensors")):
        return
    if any(p.suffix in _PICKLE_SUFFIXES for p in folder.iterdir()):
        raise InvalidInput(f"{folder} holds only pickle weights; Overlay loads safetensors only")
    raise InvalidInput(f"{folder} holds no model weights (*.safetensors)")


def _check_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInput(f"device {device!r} requested but CUDA is not available")
    if not (device == "cpu" or device.startswith("cuda") or device == "mps"):
        raise InvalidInput(f"unknown device {device!r}: use cpu or cuda")
    return device


def load_base_model(settings: Settings) -> BaseModel:
    """Load ``settings.model`` frozen (eval, no gradients) in fp32 on ``settings.device``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = _check_device(settings.device)
    start = time.perf_counter()
    source = resolve_model_source(settings)
    kw: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kw)
        model: Any = AutoModelForCausalLM.from_pretrained(
            source, dtype=torch.float32, use_safetensors=True, **kw
        )
    except OSError as exc:
        raise NotFound(
            f"model {settings.model!r} not found locally (nothing is downloaded from a hub): "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    model.to(device)
    freeze(model)
    threads = set_threads(settings)
    gemv = "torch"
    if device == "cpu":
        gemv = decode_kernel(model, settings, threads)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    numeric = choose_path(settings.dtype, device)
    set_path(model, numeric)
    seconds = time.perf_counter() - start
    return BaseModel(model, tokenizer, settings.model, device, seconds, numeric=numeric,
                     threads=threads, gemv=gemv)  # fmt: skip


def decode_kernel(model: Any, settings: Settings, threads: int) -> str:
    """Overlay's compiled one-row kernel for decoding where it can be built and torch runs
    one thread (``overlay.model.kernels.gemv``), else torch's gemv on column-major weights."""
    from overlay.model.kernels.gemv import install, kernel

    fn = kernel(settings.models_path / ".kernels", settings.decode_kernel) if threads == 1 else None
    if fn is not None and install(model, fn):
        return "overlay (compiled for this CPU)"
    gemv_layout(model)
    return "torch"


def torch_threads(settings: Settings) -> int:
    """``settings.torch_threads``, or one core left to the event loop, lookups and embedding
    and the rest shared by the model workers (at least 1). On a busy 2-core machine 2 torch
    threads decoded 2.4 tok/s against 5.7 with 1 (see docs/performance.md#threads)."""
    if settings.torch_threads:
        return settings.torch_threads
    return max(1, (available_cores() - 1) // max(1, settings.api.model_workers))


def lookup_threads(settings: Settings) -> int:
    """``settings.api.lookup_threads``, or two per core (at least 2, at most 32): a lookup
    spends about half its time waiting on Redis or Chroma and half embedding its query."""
    if settings.api.lookup_threads:
        return settings.api.lookup_threads
    return max(2, min(32, 2 * available_cores()))


def batch_threads(settings: Settings) -> int:
    """``settings.batch_threads``, or every usable core shared by the model workers (at least
    1): the threads of the batched passes, scoring and prefill (``overlay.model.threads``)."""
    if settings.batch_threads:
        return settings.batch_threads
    return max(1, available_cores() // max(1, settings.api.model_workers))


def set_threads(settings: Settings) -> int:
    """Set torch's intra-op threads from ``settings`` (process-wide) and the batched passes'
    (``overlay.model.threads``); return the former."""
    import torch

    n = torch_threads(settings)
    torch.set_num_threads(n)
    set_batch_threads(batch_threads(settings))
    return n


def gemv_layout(model: Any) -> None:
    """Store every linear layer's weight (out, in) column-major, in place, same values.

    Decoding multiplies one row by each weight: MKL's gemv reads an (in, out) row-major
    matrix ~1.45× faster than the (out, in) one transformers loads (measured on 150
    model-sized matrices: 23 vs 34 ms, the memory bound being ~16 ms). ``weight`` stays an
    (out, in) tensor — a transposed view — so every caller, LoRA layer, merge and save
    works unchanged. An output projection tied to the token embedding (SmolLM2's 113 MB
    vocabulary matrix, a fifth of the weights) is laid out the same way: the lookup of one
    strided row per token costs microseconds, the projection every decoded token makes got
    ~3 % faster (30.3 vs 31.3 ms a token), same tokens.
    """
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear | torch.nn.Embedding):
            w = module.weight
            if w.dim() == 2 and w.is_contiguous():
                w.data = w.data.t().contiguous().t()
    _trim_heap()


def _trim_heap() -> None:
    """Give the old weight copies' freed pages back to the OS (glibc keeps them otherwise)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


def freeze(model: Any) -> Any:
    """Put ``model`` in eval mode with every parameter's gradient switched off."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def model_info(bm: BaseModel) -> dict[str, Any]:
    """Name, size, dtype, device, load time and memory of a loaded model. ``parameters`` are
    the base model's own; the LoRA weights of the adapters loaded on it are counted apart
    (``adapter_parameters``), as the memory they take is (``weights_mb`` holds both)."""
    named = list(bm.model.named_parameters())
    params = [p for _, p in named]
    lora = sum(p.numel() for name, p in named if "lora_" in name)
    nbytes = sum(p.numel() * p.element_size() for p in params)
    return {
        "name": bm.name,
        "class": type(bm.model).__name__,
        "parameters": sum(p.numel() for p in params) - lora,
        "adapter_parameters": lora,
        "dtype": str(params[0].dtype).removeprefix("torch.") if params else "",
        "device": bm.device,
        "numeric_path": bm.numeric.to_dict(),
        "torch_threads": bm.threads,
        "batch_threads": current_batch_threads(),
        "decode_gemv": bm.gemv,
        "load_seconds": round(bm.load_seconds, 3),
        "weights_mb": round(nbytes / 2**20, 1),
        "process_rss_mb": round(_rss_mb(), 1),
        "frozen": not any(p.requires_grad for p in params) and not bm.model.training,
    }


def _rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
