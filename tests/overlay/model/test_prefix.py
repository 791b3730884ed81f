"""The prefix caches' bookkeeping: entries kept on top of a shared head, what a lookup returns,
what eviction takes with it, and the byte bound."""

from __future__ import annotations

import pytest
import torch

from overlay.model.lean import KV
from overlay.model.prefix import PrefixCache


def _states(start: int, n: int, layers: int = 2) -> tuple:
    """Fake per-layer (keys, values) whose entries are their positions."""
    pos = torch.arange(start, start + n, dtype=torch.float32).view(1, 1, n, 1)
    return tuple((pos.clone(), -pos.clone()) for _ in range(layers))


def test_an_entry_on_a_shared_head_is_looked_up_as_both_parts() -> None:
    cache = PrefixCache(max_entries=100, min_tokens=0)
    head, a, b = [1, 2, 3], [1, 2, 3, 10, 11], [1, 2, 3, 20]
    cache.keep("m", head, _states(0, 3))
    cache.keep("m", a, _states(3, 2), base=3)
    cache.keep("m", b, _states(3, 1), base=3)
    assert cache.nbytes == 2 * 2 * 4 * (3 + 2 + 1)  # the head once
    n, parts = cache.lookup("m", [*a, 99])
    assert n == 5 and len(parts) == 2
    zeros = [torch.zeros(1, 1, 8, 1) for _ in range(4)]
    kv = KV(zeros[:2], zeros[2:])
    kv.load(*parts)
    assert kv.length == 5 and kv.keys[1][0, 0, :5, 0].tolist() == [0, 1, 2, 3, 4]
    assert kv.values[0][0, 0, :5, 0].tolist() == [0, -1, -2, -3, -4]
    assert cache.lookup("m", [1, 2, 3, 30]) == (3, (cache.get("m", head),))
    assert cache.lookup("other", [*a, 99]) == (0, ())
    assert cache.stats.hits == 2 and cache.stats.lookups == 3


def test_a_head_outlives_its_entries_and_takes_them_when_it_goes() -> None:
    cache = PrefixCache(max_entries=3, min_tokens=0)
    with pytest.raises(ValueError, match="whole first"):
        cache.keep("m", [1, 2, 3, 4], _states(2, 2), base=2)
    cache.keep("m", [1, 2], _states(0, 2))
    cache.keep("m", [1, 2, 3], _states(2, 1), base=2)
    cache.keep("m", [1, 2, 4], _states(2, 1), base=2)
    cache.keep("m", [7, 8], _states(0, 2))  # 4 entries: the oldest entry goes, not its head
    assert not cache.has("m", [1, 2, 3]) and cache.has("m", [1, 2]) and cache.has("m", [1, 2, 4])
    cache.keep("m", [9, 9], _states(0, 2))  # now the head is the oldest: it goes with [1, 2, 4]
    assert cache.stats.entries == 2 and cache.has("m", [7, 8]) and cache.has("m", [9, 9])
    assert cache.lookup("m", [1, 2, 4, 5]) == (0, ())
    assert cache.nbytes == 2 * 2 * 4 * 4


def test_the_byte_bound() -> None:
    per_token = 2 * 2 * 4
    cache = PrefixCache(max_entries=100, min_tokens=0, max_bytes=10 * per_token)
    cache.keep("m", [1, 2, 3, 4], _states(0, 4))
    cache.keep("m", [5, 6, 7, 8, 9, 10, 11], _states(0, 7))  # over: the least recent goes
    assert not cache.has("m", [1, 2, 3, 4]) and cache.nbytes == 7 * per_token
