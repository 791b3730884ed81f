"""A BM25-style sparse index kept in the semantic weight table (Redis).

Layout, per tenant namespace and collection (``P = <ns>:w:bm25:<collection>``):

- ``P:t:<term>`` — sorted set, chunk id → term weight
  ``tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl))`` (avgdl as it was at indexing);
- ``P:len``      — hash, chunk id → length in terms (``HLEN`` = number of chunks);
- ``P:terms``    — hash, chunk id → its distinct terms (to remove its postings);
- ``P:total``    — total length of all chunks (for avgdl).

A query reads, in one pipelined round trip, the chunk count, and per query term
its document frequency (``ZCARD``) and its heaviest postings. idf is computed
then, so it stays right as the corpus grows and shrinks. Adding and removing a
chunk are single Lua scripts: each chunk is indexed all-or-nothing and twice
is the same as once, which the crash-safe ingestion relies on.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from memory.redis import store_errors
from memory.weights import WeightTable

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()
)

# KEYS: lens, terms, total, term keys…  ARGV: id, length, joined terms, weights…
_ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('INCRBY', KEYS[3], ARGV[2])
for i = 4, #KEYS do redis.call('ZADD', KEYS[i], ARGV[i], ARGV[1]) end
return 1
"""

# KEYS: lens, terms, total, term keys…  ARGV: id
_REMOVE = """
local len = redis.call('HGET', KEYS[1], ARGV[1])
if not len then return 0 end
for i = 4, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[3], len)
return 1
"""


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def analyze(text: str) -> list[str]:
    """Terms of ``text``: lower-cased words, stop words dropped, Snowball-stemmed."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) <= 64]


@dataclass(frozen=True)
class SparseStats:
    chunks: int
    avgdl: float


class SparseIndex:
    """BM25 over one collection's chunks, stored under the weight table's keys."""

    def __init__(
        self,
        weights: WeightTable,
        collection: str,
        k1: float = 1.2,
        b: float = 0.75,
        postings_limit: int = 2000,
    ) -> None:
        self.r: Any = weights.r  # decode_responses=True: str replies
        self.prefix = weights.key("bm25", collection)
        self.k1, self.b = k1, b
        self.postings_limit = postings_limit
        self._add = self.r.register_script(_ADD)
        self._remove = self.r.register_script(_REMOVE)

    def _term_key(self, term: str) -> str:
        return f"{self.prefix}:t:{term}"

    @property
    def _lens(self) -> str:
        return f"{self.prefix}:len"

    @property
    def _terms(self) -> str:
        return f"{self.prefix}:terms"

    @property
    def _total(self) -> str:
        return f"{self.prefix}:total"

    def stats(self) -> SparseStats:
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.hlen(self._lens)
            pipe.get(self._total)
            n, total = pipe.execute()
        n = int(n or 0)
        return SparseStats(n, (int(total or 0) / n) if n else 0.0)

    def add(self, docs: Sequence[tuple[str, str]]) -> int:
        """Index ``(chunk_id, text)`` pairs; already indexed ids are left as they are."""
        if not docs:
            return 0
        analyzed = [(cid, Counter(analyze(text))) for cid, text in docs]
        st = self.stats()
        batch_len = sum(sum(tf.values()) for _, tf in analyzed)
        avgdl = max((st.avgdl * st.chunks + batch_len) / (st.chunks + len(docs)), 1.0)
        k1, b = self.k1, self.b
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            for cid, tfs in analyzed:
                dl = sum(tfs.values())
                norm = k1 * (1 - b + b * dl / avgdl)
                terms = sorted(tfs)
                weights = [f"{tfs[t] * (k1 + 1) / (tfs[t] + norm):.6g}" for t in terms]
                keys = [self._lens, self._terms, self._total, *map(self._term_key, terms)]
                self._add(keys=keys, args=[cid, dl, " ".join(terms), *weights], client=pipe)
            added = pipe.execute()
        return int(sum(int(x) for x in added))

    def remove(self, ids: Iterable[str]) -> int:
        """Remove chunks and all their postings; unknown ids are ignored."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        with store_errors():
            joined = self.r.hmget(self._terms, ids)
            pipe = self.r.pipeline(transaction=False)
            for cid, terms in zip(ids, joined, strict=True):
                term_keys = [self._term_key(t) for t in (terms or "").split()]
                keys = [self._lens, self._terms, self._total, *term_keys]
                self._remove(keys=keys, args=[cid], client=pipe)
            removed = pipe.execute()
        return int(sum(int(x) for x in removed))

    def contains(self, ids: Sequence[str]) -> list[bool]:
        if not ids:
            return []
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            for cid in ids:
                pipe.hexists(self._lens, cid)
            return [bool(x) for x in pipe.execute()]

    def all_ids(self) -> list[str]:
        with store_errors():
            return list(self.r.hkeys(self._lens))

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """Chunk ids ranked by BM25 for ``query``: O(query terms) lookups in one round trip."""
        terms = list(dict.fromkeys(analyze(query)))
        if not terms or k <= 0:
            return []
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.hlen(self._lens)
            for t in terms:
                pipe.zcard(self._term_key(t))
                pipe.zrevrange(self._term_key(t), 0, self.postings_limit - 1, withscores=True)
            rows = pipe.execute()
        n = int(rows[0])
        scores: dict[str, float] = {}
        for i in range(len(terms)):
            df, postings = int(rows[1 + 2 * i]), rows[2 + 2 * i]
            if not df:
                continue
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for cid, w in postings:
                scores[cid] = scores.get(cid, 0.0) + idf * float(w)
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return best[:k]

    def drop(self) -> None:
        """Delete the whole index of this collection."""
        with store_errors():
            keys = list(self.r.scan_iter(match=f"{self.prefix}:*", count=1000))
            for i in range(0, len(keys), 500):
                self.r.delete(*keys[i : i + 500])
