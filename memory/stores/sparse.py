"""A BM25-style sparse index kept in the semantic weight table (Redis).

Layout, per tenant namespace and collection (``P = <ns>:w:bm25:{<ns>/<collection>}``,
the hash tag keeping one collection's index in one Redis Cluster slot, as its
scripts need):

- ``P:t:<term>`` — sorted set, chunk id → term weight
  ``tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl))`` (avgdl as it was at indexing);
- ``P:len``      — hash, chunk id → length in terms (``HLEN`` = number of chunks);
- ``P:terms``    — hash, chunk id → its distinct terms (to remove its postings);
- ``P:total``    — total length of all chunks (for avgdl).

A query is one Lua script in Redis: the chunk count, and per query term its
document frequency (``ZCARD``) and its heaviest postings; idf is computed then,
so it stays right as the corpus grows and shrinks, and only the top k ids come
back. Adding and removing a
chunk are single Lua scripts: each chunk is indexed all-or-nothing and twice
is the same as once, which the crash-safe ingestion relies on. Every script
gets all its keys in KEYS; dropping an index reads its term keys from ``P:terms``
(no SCAN of the keyspace).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from memory.stores.redis import run_script, slot_tag, store_errors
from memory.stores.weights import WeightTable

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

# Scores a query inside Redis, so only the top k cross the wire.
# KEYS: lens, term keys…  ARGV: postings limit, k
_SEARCH = """
local n = redis.call('HLEN', KEYS[1])
local limit, k = tonumber(ARGV[1]), tonumber(ARGV[2])
local scores, ids = {}, {}
for i = 2, #KEYS do
  local df = redis.call('ZCARD', KEYS[i])
  if df > 0 then
    local idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    local rows = redis.call('ZREVRANGE', KEYS[i], 0, limit - 1, 'WITHSCORES')
    for j = 1, #rows, 2 do
      local id = rows[j]
      local old = scores[id]
      if old == nil then ids[#ids + 1] = id; old = 0 end
      scores[id] = old + idf * tonumber(rows[j + 1])
    end
  end
end
local function better(a, b)
  local sa, sb = scores[a], scores[b]
  if sa == sb then return a < b end
  return sa > sb
end
local top = {}
if k > 64 then  -- a large k: sort every candidate
  table.sort(ids, better)
  for i = 1, math.min(k, #ids) do top[i] = ids[i] end
else  -- a small k: keep the best k by insertion, no sort of every candidate
  for _, id in ipairs(ids) do
    if #top < k or better(id, top[#top]) then
      local pos = #top + 1
      while pos > 1 and better(id, top[pos - 1]) do pos = pos - 1 end
      table.insert(top, pos, id)
      if #top > k then top[#top] = nil end
    end
  end
end
local out = {}
for i = 1, #top do
  out[#out + 1] = top[i]
  out[#out + 1] = string.format('%.17g', scores[top[i]])
end
return out
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
        self.prefix = f"{weights.ns}:w:bm25:{slot_tag(weights.ns, collection)}"
        self.k1, self.b = k1, b
        self.postings_limit = postings_limit
        self._add = self.r.register_script(_ADD)
        self._remove = self.r.register_script(_REMOVE)
        self._search = self.r.register_script(_SEARCH)

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
                run_script(self._add, keys, [cid, dl, " ".join(terms), *weights], pipe)
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
                run_script(self._remove, keys, [cid], pipe)
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
        """Chunk ids ranked by BM25 for ``query``: O(query terms) lookups, one round trip.

        Scoring runs in Redis (a Lua script over the terms' heaviest postings), so
        only the top ``k`` ids and scores come back.
        """
        terms = list(dict.fromkeys(analyze(query)))
        if not terms or k <= 0:
            return []
        keys = [self._lens, *map(self._term_key, terms)]
        with store_errors():
            flat = self._search(keys=keys, args=[self.postings_limit, k])
        return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]

    def drop(self) -> None:
        """Delete the whole index of this collection (its term keys come from ``P:terms``)."""
        with store_errors():
            terms: set[str] = set()
            for _, joined in self.r.hscan_iter(self._terms, count=1000):
                terms.update(joined.split())
            keys = [*map(self._term_key, sorted(terms)), self._lens, self._terms, self._total]
            for i in range(0, len(keys), 500):
                self.r.delete(*keys[i : i + 500])
