"""The numeric path: which dtype each pass runs in, picked at start-up from the CPU.

Prefill and scoring are compute-bound: on CPUs with AVX-512 BF16 or AMX, bf16 matmuls
(under ``torch.autocast``) run 2-3× faster than fp32; on CPUs without them bf16 is
emulated and several times *slower*. Decoding is memory-bound and greedy text must not
change, so it always runs in fp32. Per pass, as measured (``bench/model_bench.py``):

- ``scoring``: bf16 where the CPU has native bf16 and a quick matmul probe confirms it is
  faster (rank correlation of the scores ≥ 0.98, same top-1 on the benchmark), else fp32;
- ``prefill`` and ``decode``: fp32. A bf16 prefill is 2.3× faster (973 vs 386 tok/s) but
  changed 5 of 16 greedy SQuAD answers within 7-31 tokens (``bench/bf16_prefill_check.py``),
  so it is no speed-up.

``OVERLAY_DTYPE`` overrides: ``auto`` (the above), ``fp32`` (everything fp32), ``bf16``
(scoring in bf16 without the probe).
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
_PATHS: weakref.WeakKeyDictionary[Any, NumericPath] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class NumericPath:
    """The dtype of each pass and why it was chosen."""

    scoring: str = "fp32"
    prefill: str = "fp32"
    decode: str = "fp32"
    reason: str = "default"
    flags: tuple[str, ...] = field(default_factory=tuple)  # the CPU flags that decided it

    def to_dict(self) -> dict[str, Any]:
        return {
            "scoring": self.scoring,
            "prefill": self.prefill,
            "decode": self.decode,
            "reason": self.reason,
            "cpu_flags": list(self.flags),
        }


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is not there)."""
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def decisive_flags(flags: set[str]) -> tuple[str, ...]:
    """The flags that bear on the choice, present or not: ``avx2`` … ``amx_bf16``."""
    names = ("avx2", "avx512f", "avx512_vnni", *BF16_FLAGS, "amx_tile")
    return tuple(n for n in names if n in flags)


def bf16_speedup(rows: int = 256, reps: int = 3) -> float:
    """fp32 time / bf16-autocast time of a model-sized matmul (> 1: bf16 is faster)."""
    import torch

    x, w = torch.randn(rows, 576), torch.randn(1536, 576)

    def timed(cast: bool) -> float:
        best = float("inf")
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if cast else contextlib.nullcontext()
        with ctx, torch.inference_mode():
            torch.nn.functional.linear(x, w)
            for _ in range(reps):
                t = time.perf_counter()
                for _ in range(4):
                    torch.nn.functional.linear(x, w)
                best = min(best, time.perf_counter() - t)
        return best

    return timed(False) / max(timed(True), 1e-9)


def choose_path(setting: str, device: str, flags: set[str] | None = None) -> NumericPath:
    """The numeric path for ``setting`` (auto | fp32 | bf16) on ``device``."""
    flags = cpu_flags() if flags is None else flags
    shown = decisive_flags(flags)
    if setting == "fp32":
        return NumericPath(reason="OVERLAY_DTYPE=fp32", flags=shown)
    if setting == "bf16":
        return NumericPath(scoring="bf16", reason="OVERLAY_DTYPE=bf16", flags=shown)
    if device != "cpu":
        return NumericPath(reason=f"auto: {device} runs fp32", flags=shown)
    if not any(f in flags for f in BF16_FLAGS):
        return NumericPath(reason="auto: no native bf16 on this CPU", flags=shown)
    gain = bf16_speedup()
    if gain < 1.3:
        return NumericPath(reason=f"auto: bf16 probe only {gain:.1f}x faster", flags=shown)
    return NumericPath(scoring="bf16", reason=f"auto: bf16 probe {gain:.1f}x faster", flags=shown)


def set_path(model: Any, path: NumericPath) -> None:
    """Record ``path`` for ``model`` (what ``autocast`` below reads)."""
    _PATHS[_inner(model)] = path
    log.info("numeric path: %s", path.to_dict())


def path_of(model: Any) -> NumericPath:
    """The numeric path recorded for ``model`` (fp32 everywhere if none was)."""
    return _PATHS.get(_inner(model)) or NumericPath()


@contextlib.contextmanager
def autocast(model: Any, stage: str) -> Iterator[None]:
    """Run ``stage`` (scoring | prefill | decode) of ``model`` in its chosen dtype."""
    import torch

    if getattr(path_of(model), stage) != "bf16":
        yield
        return
    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield


def _inner(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model
