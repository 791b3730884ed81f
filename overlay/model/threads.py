"""Threads for the batched passes: scoring candidates and reading a prompt run on every core
the process may use, while decoding keeps ``torch_threads`` (one on a 2-core machine).

A batched pass multiplies hundreds of rows by each weight: it is compute-bound and splits
well across cores (the choosing pass over ``examples/docs``' candidates took 1.68 s at one
thread and 1.16 s at two on a shared 2-core AVX2 machine). Decoding multiplies one row: it is
bound by memory, and a second thread only waits on the first (2.4 vs 5.7 tok/s on a busy 2-core
machine, ``docs/performance.md#threads``). ``batched()`` raises torch's intra-op threads for the
block it wraps and restores them after; the count is set once at start-up from the settings
(``overlay.model.base.set_threads``). Only idle cores are taken: where other threads are
running right now (``/proc/loadavg``'s runnable count, read in microseconds), the pass keeps
the threads it has. Under 32 lookup clients, taking the busy second core anyway cost the lookups
17 % of their throughput and 1.6× their p99, and gained the chat turn nothing
(``bench/load_bench.py --batch-threads``). torch's count is process-wide: with several model
workers, a decode that starts while another worker is inside a batched pass sees two threads
and steps through torch instead of the compiled step (the same tokens, slower).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

_batch = {"threads": 0}  # 0: leave torch's threads as they are


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_batch_threads(n: int) -> None:
    """Threads ``batched()`` runs its block on (0: unchanged)."""
    _batch["threads"] = max(0, n)


def batch_threads() -> int:
    return _batch["threads"]


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Inside: torch runs on the batch thread count; the caller's count is restored after."""
    import torch

    before = torch.get_num_threads()
    n = min(_batch["threads"], before + _idle_cores(before))
    if n <= before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _idle_cores(mine: int, loadavg: str = "/proc/loadavg") -> int:
    """Usable cores no runnable thread needs right now, besides the ``mine`` the caller has
    (``/proc/loadavg``'s 4th field counts the runnable threads, the caller among them); every
    other core where that cannot be read."""
    cores = available_cores()
    try:
        with open(loadavg, encoding="ascii") as fh:
            running = int(fh.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return max(0, cores - mine)
    return max(0, cores - max(mine, running))
