"""A bounded cache of KV states for prompt prefixes that recur (the chat template's head,
the system prompt, a session's earlier context).

Nothing tells ``decode`` where a prompt's fixed head ends, so the cache finds it: it keeps
the last few prompts' token ids, and when a new prompt shares at least ``min_tokens`` leading
tokens with one of them, the KV states of that common prefix are kept (after the prompt's
prefill, which computes them anyway). A later prompt starting with a kept prefix only
prefills its own tail. Entries are keyed by the model, its active adapters and the prefix's
token ids — a prefix computed under adapter A is never reused under adapter B — and the
least recently used entry goes first beyond ``max_entries``.

``prefix_cache_stats()`` gives the process-wide hit rate (for ``/metrics``).

``PASSAGES`` is a second cache of the same kind, filled ahead of questions instead of by
recurrence: the reader adapter's prompt up to its question, for every sentence window of the
documents (``overlay.answering.ahead``), bounded by bytes instead of entries, each passage
kept on top of the chat template's head (kept once). ``LeanRunner`` looks in both caches and
takes the longer prefix.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Saved = tuple[tuple[Any, Any], ...]  # per layer (keys, values), each (1, kv_heads, n, head_dim)


@dataclass
class PrefixStats:
    """Counters of one cache: lookups, hits, and prompt tokens not recomputed."""

    lookups: int = 0
    hits: int = 0
    reused_tokens: int = 0
    prompt_tokens: int = 0
    entries: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "lookups": self.lookups,
            "hits": self.hits,
            "hit_rate": round(self.hit_rate, 4),
            "reused_tokens": self.reused_tokens,
            "prompt_tokens": self.prompt_tokens,
            "entries": self.entries,
        }


class PrefixCache:
    """LRU of (model, adapters, prefix ids) → KV states; see the module docstring.

    An entry may hold only its positions from ``base`` on, the states before them being
    another entry's (``keep(..., base=)``): reader passages share the chat template's head."""

    def __init__(
        self, max_entries: int = 8, min_tokens: int = 16, recent: int = 8, max_bytes: int = 0
    ) -> None:
        self.max_entries = max_entries
        self.min_tokens = min_tokens
        self.max_bytes = max_bytes  # 0: bounded by entries only
        self.nbytes = 0
        self._entries: OrderedDict[tuple[Any, ...], tuple[int, Saved]] = OrderedDict()
        self._recent: deque[tuple[Any, tuple[int, ...]]] = deque(maxlen=recent)
        self._lock = threading.Lock()
        self.stats = PrefixStats()

    def lookup(self, owner: Any, ids: list[int]) -> tuple[int, tuple[Saved, ...]]:
        """The longest kept prefix of ``ids`` (shorter than ``ids``) for ``owner``: its
        length and KV states (consecutive parts from position 0), or ``(0, ())``."""
        with self._lock:
            self.stats.lookups += 1
            self.stats.prompt_tokens += len(ids)
            best: tuple[Any, ...] | None = None
            for key, (base, _) in self._entries.items():
                n = len(key) - 1
                if key[0] == owner and n < len(ids) and (best is None or n > len(best) - 1):
                    if tuple(ids[:n]) == key[1:] and (not base or key[: base + 1] in self._entries):
                        best = key
            if best is None:
                return 0, ()
            base, saved = self._entries[best]
            parts: tuple[Saved, ...] = (saved,)
            if base:
                head = best[: base + 1]
                self._entries.move_to_end(head)
                parts = (self._entries[head][1], saved)
            self._entries.move_to_end(best)
            self.stats.hits += 1
            self.stats.reused_tokens += len(best) - 1
            return len(best) - 1, parts

    def get(self, owner: Any, ids: list[int]) -> Saved | None:
        """The states of exactly the prefix ``ids`` kept whole (no stats, no reordering)."""
        with self._lock:
            entry = self._entries.get((owner, *ids))
            return entry[1] if entry is not None and not entry[0] else None

    def shared_prefix(self, owner: Any, ids: list[int], have: int) -> int:
        """Remember ``ids``; the length of the longest prefix it shares with a recent prompt
        of ``owner`` worth keeping (≥ ``min_tokens`` and longer than ``have``), else 0."""
        prompt = tuple(ids)
        with self._lock:
            best = 0
            for who, other in self._recent:
                if who == owner:
                    best = max(best, common_length(prompt, other))
            self._recent.append((owner, prompt))
        best = min(best, len(ids) - 1)
        return best if best >= self.min_tokens and best > have else 0

    def keep(self, owner: Any, ids: list[int], saved: Saved, base: int = 0) -> None:
        """Keep ``saved`` as the KV states of the prefix ``ids`` — of its positions from
        ``base`` on, the first ``base`` being the kept whole prefix ``ids[:base]`` — least
        recently used out beyond ``max_entries`` or ``max_bytes``."""
        key = (owner, *ids)
        with self._lock:
            if base and self._entries.get(key[: base + 1], (1,))[0]:
                raise ValueError("keep the prefix ids[:base] whole first")
            old = self._entries.pop(key, None)
            self.nbytes += _nbytes(saved) - (_nbytes(old[1]) if old is not None else 0)
            if base:  # the head is as recent as its newest entry: evicted only after them
                self._entries.move_to_end(key[: base + 1])
            self._entries[key] = (base, saved)
            while len(self._entries) > self.max_entries or (
                self.max_bytes and self.nbytes > self.max_bytes and len(self._entries) > 1
            ):
                self._drop(next(iter(self._entries)))
            self.stats.entries = len(self._entries)

    def _drop(self, key: tuple[Any, ...]) -> None:
        """``key`` out, and every entry kept on top of it (lock held)."""
        _, saved = self._entries.pop(key)
        self.nbytes -= _nbytes(saved)
        n = len(key) - 1
        for other in [k for k, (base, _) in self._entries.items() if base == n]:
            if other[: n + 1] == key:
                self._drop(other)

    def has(self, owner: Any, ids: list[int]) -> bool:
        """Whether exactly the prefix ``ids`` is kept for ``owner`` (no stats, no reordering)."""
        with self._lock:
            return (owner, *ids) in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._recent.clear()
            self.nbytes = 0
            self.stats = PrefixStats()


def _nbytes(saved: Saved) -> int:
    return sum(k.nelement() * k.element_size() + v.nelement() * v.element_size() for k, v in saved)


def common_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


PREFIXES = PrefixCache()
PASSAGES = PrefixCache(max_entries=1 << 16, min_tokens=0, recent=1)  # sized by the settings


def prefix_cache_stats(cache: PrefixCache = PREFIXES) -> dict[str, float]:
    """Hit rate and counters of one of the process's prefix caches (``/metrics`` reads this)."""
    with cache._lock:
        return {**cache.stats.to_dict(), "bytes": cache.nbytes}
