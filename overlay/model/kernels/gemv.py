"""The decode kernels, compiled once on this machine: a one-row fp32 matrix-vector product
(below) and the whole Llama step built on it (``overlay.model.kernels.cstep``), one C library
(``overlay.model.kernels.csrc``).

Decoding multiplies ONE row by every weight matrix, so it is bound by how fast the weights
stream from memory. On a 2-core AVX-512 machine torch's (MKL's) gemv read SmolLM2's 538 MB
of linear weights at ~21 GB/s, while llama.cpp's f32 dot products reach ~32 GB/s on the same
weights (60 vs 28 tok/s). This kernel — four rows at a time sharing the input, the inner
loop vectorised by the compiler for whatever this CPU has (``-march=native``) — reads them
at ~32 GB/s: 16.4 vs 25.7 ms per token for all 211 matrices (``bench/model_bench.py``).

It is built with the C compiler at first use (well under a second) into
``<models dir>/.kernels``, keyed by the source, the flags and the CPU's flags. Without a
compiler, with ``OVERLAY_DECODE_KERNEL=torch``, or with more than one torch thread (MKL
then splits the rows across cores) decoding uses torch as before. ``install`` gives each
``nn.Linear`` a ``forward`` that takes the kernel for a single fp32 row outside autocast and
autograd, and ``F.linear`` otherwise — so prefill, scoring, training, LoRA layers (their
base layer takes the kernel, their own small matrices do not) and merges are unchanged.
The sums run in another order than MKL's; greedy tokens stay those of transformers'
``generate`` (tested on a tiny and on the real model).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from overlay.model.kernels.csrc import SOURCE
from overlay.model.numeric import cpu_flags

log = logging.getLogger("overlay.model")

# reassociation lets the compiler vectorise the sums; NaN and inf stay exact. Not -ffast-math:
# with it GCC links crtfastmath.o, whose constructor switches the whole process to flush
# subnormals to zero when the library loads (numpy, torch and everything else included).
FLAGS = [
    "-O3", "-march=native", "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math",
    "-freciprocal-math", "-fno-math-errno", "-shared", "-fPIC",
]  # fmt: skip

_loaded: dict[Path, Any] = {}
_current: dict[str, Any] = {}
_switch = {"on": True}  # process-wide; ``disabled()`` turns it off (tests compare with torch)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Inside: every installed layer multiplies with torch (the reference path)."""
    before, _switch["on"] = _switch["on"], False
    try:
        yield
    finally:
        _switch["on"] = before


def kernel(cache_dir: Path, use: str = "auto") -> Any | None:
    """The compiled kernel (a ctypes function), building it into ``cache_dir`` once; None
    when it cannot be built here (no C compiler, a failed build) or ``use`` is "torch"
    (``settings.decode_kernel``)."""
    if use == "torch":
        return None
    machine = " ".join(sorted(cpu_flags()))  # -march=native: built for this CPU only
    tag = hashlib.sha256("\0".join([SOURCE, *FLAGS, machine]).encode()).hexdigest()[:16]
    lib = cache_dir / f"gemv-{tag}.so"
    if lib in _loaded:
        return _loaded[lib]
    if not lib.exists() and not _build(lib):
        return None
    try:
        cdll = ctypes.CDLL(str(lib))
        fn, step = cdll.overlay_gemv_f32, cdll.overlay_llama_step
    except (OSError, AttributeError) as exc:
        log.warning("decode kernel %s could not be loaded (%s); using torch", lib.name, exc)
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long,
                   ctypes.c_long]  # fmt: skip
    fn.restype = None
    step.restype = None
    _loaded[lib] = fn
    _current["step"] = step
    return fn


def step_function() -> Any | None:
    """The compiled whole-token decode step (``overlay.model.kernels.cstep``) of the kernel library
    loaded in this process, or None."""
    return _current.get("step") if _switch["on"] else None


def _build(lib: Path) -> bool:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        log.info("no C compiler: decoding uses torch's gemv")
        return False
    try:
        lib.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
            src, out = Path(tmp) / "gemv.c", Path(tmp) / lib.name
            src.write_text(SOURCE, encoding="ascii")
            proc = subprocess.run([cc, *FLAGS, str(src), "-o", str(out)], capture_output=True,
                                  text=True, timeout=120, check=False)  # fmt: skip
            if proc.returncode != 0:
                log.warning("building the decode kernel failed: %s", proc.stderr.strip()[-300:])
                return False
            os.replace(out, lib)  # atomic: a concurrent builder's copy is as good
    except (OSError, subprocess.TimeoutExpired) as exc:  # read-only dir, no space, hung cc
        log.warning("building the decode kernel failed (%s); using torch", exc)
        return False
    return True


def install(model: Any, fn: Any) -> int:
    """Route single-row fp32 products of every ``nn.Linear`` of ``model`` through ``fn``
    (weights stored row-major, as loaded); returns how many layers take it."""
    import torch

    n = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module.weight.dtype == torch.float32:
            if not module.weight.is_contiguous():
                module.weight.data = module.weight.data.contiguous()
            module.forward = types.MethodType(_make_forward(fn), module)  # type: ignore[method-assign]
            n += 1
    return n


def _make_forward(fn: Any) -> Any:
    import torch
    import torch.nn.functional as F

    def forward(self: Any, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if (
            _switch["on"]
            and x.dtype == torch.float32
            and w.dtype == torch.float32
            and x.numel() == w.shape[1]
            and w.is_contiguous()
            and x.device.type == "cpu"
            and not torch.is_grad_enabled()
            and not torch.is_autocast_enabled("cpu")
            and torch.get_num_threads() == 1
        ):
            x = x.contiguous()
            y = torch.empty((*x.shape[:-1], w.shape[0]), dtype=torch.float32)
            fn(w.data_ptr(), x.data_ptr(), y.data_ptr(), w.shape[0], w.shape[1])
            return y if self.bias is None else y + self.bias
        return F.linear(x, w, self.bias)

    return forward
