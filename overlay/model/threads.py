"""Threads for the batched passes: scoring candidates and reading a prompt run on every core
the process may use, while decoding keeps ``torch_threads`` (one on a 2-core machine).

A batched pass multiplies hundreds of rows by each weight: it is compute-bound and splits
well across cores (the choosing pass over ``examples/docs``' candidates took 1.68 s at one
thread and 1.16 s at two on a shared 2-core AVX2 machine). Decoding multiplies one row: it is
bound by memory, and a second thread only waits on the first (2.4 vs 5.7 tok/s on a busy 2-core
machine, ``docs/performance.md#threads``). ``batched()`` raises torch's intra-op threads for the
block it wraps and restores them after; the count is set once at start-up from the settings
(``overlay.model.base.set_threads``). torch's count is process-wide: with several model
workers, a decode that starts while another worker is inside a batched pass sees two threads
and steps through torch instead of the compiled step (the same tokens, slower).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_batch = {"threads": 0}  # 0: leave torch's threads as they are


def set_batch_threads(n: int) -> None:
    """Threads ``batched()`` runs its block on (0: unchanged)."""
    _batch["threads"] = max(0, n)


def batch_threads() -> int:
    return _batch["threads"]


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Inside: torch runs on the batch thread count; the caller's count is restored after."""
    import torch

    n, before = _batch["threads"], torch.get_num_threads()
    if n <= 0 or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
