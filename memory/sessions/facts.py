"""The session fact store: ``<ns>:mem:{<ns>/<session>}:facts``, key → Fact JSON with history.

A later value on the same key supersedes the earlier one, which moves into the
fact's history (atomically, in one Lua script). Reading the facts of several
sessions merges them: the newest value per key wins, the rest form its history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from memory.sessions.extract import Fact, normalise_key
from memory.stores.redis import Client, slot_tag, store_errors

# Set a fact unless unchanged; the superseded value moves into the history.
_UPSERT_FACT = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local new = cjson.decode(ARGV[2])
local hist = {}
if old then
  local o = cjson.decode(old)
  if o.value == new.value then return 0 end
  if type(o.history) == 'table' then hist = o.history end
  table.insert(hist, {value = o.value, ts = o.ts, turn = o.turn, session = o.session})
end
new.history = hist
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(new))
return 1
"""


def sessions_key(namespace: str) -> str:
    """The set of a tenant's sessions (in the tenant's hash slot)."""
    return f"{namespace}:mem:{slot_tag(namespace)}:sessions"


class SessionFacts:
    """Keyed facts of one tenant's sessions (``namespace`` as in ``SessionMemory``)."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.r: Any = client
        self.ns = namespace
        self._upsert = client.register_script(_UPSERT_FACT)

    def key(self, session: str) -> str:
        return f"{self.ns}:mem:{slot_tag(self.ns, session)}:facts"

    def set(self, session: str, fact: Fact) -> bool:
        """Store ``fact`` under its key; an older value is kept in the history."""
        fact.key = fact.key if fact.key.startswith("note:") else normalise_key(fact.key)
        fact.ts = fact.ts or time.time()
        fact.session = fact.session or session
        data = fact.to_dict()
        data.pop("history")
        with store_errors():
            changed = self._upsert(
                keys=[self.key(session)],
                args=[fact.key, json.dumps(data, ensure_ascii=False)],
            )
            self.r.sadd(sessions_key(self.ns), session)
        return bool(changed)

    def remove(self, sessions: Sequence[str], key: str) -> int:
        """Remove ``key`` from each of ``sessions``; the number of facts removed."""
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            for s in sessions:
                pipe.hdel(self.key(s), key)
            return int(sum(pipe.execute()))

    def read(self, sessions: Sequence[str]) -> list[Fact]:
        """Current facts of ``sessions`` merged (see ``merge_facts``), newest first."""
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            for s in sessions:
                pipe.hvals(self.key(s))
            rows = pipe.execute()
        return merge_facts(Fact.from_dict(json.loads(v)) for row in rows for v in row)


def merge_facts(facts: Iterable[Fact]) -> list[Fact]:
    """One fact per key: the newest value wins; every other value joins its history."""
    by_key: dict[str, list[Fact]] = {}
    for f in facts:
        by_key.setdefault(f.key, []).append(f)
    out = []
    for group in by_key.values():
        group.sort(key=lambda f: f.ts)
        cur = group[-1]
        past = [h for f in group for h in f.history] + [
            {"value": f.value, "ts": f.ts, "turn": f.turn, "session": f.session} for f in group[:-1]
        ]
        past.sort(key=lambda h: float(h.get("ts") or 0))
        cur.history = [
            h for i, h in enumerate(past) if i == 0 or h["value"] != past[i - 1]["value"]
        ]
        out.append(cur)
    # ties (facts of one message share its time) by key: a hash's field order is not kept
    # when its keys move (a migration, a cluster reshard), so it must not decide the order
    return sorted(out, key=lambda f: (-f.ts, f.key))
