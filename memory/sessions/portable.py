"""A session as JSON lines, out and back in: its turns with their times, its facts with their
history. A round trip loses nothing: export → import (into an empty session) → export gives
the same bytes. Vectors are not exported; the importing side embeds the turns again.

Lines, in order: ``{"kind": "session", "format": 1, "user"}``, then one ``{"kind": "turn", id,
role, text, ts, speaker?, when?}`` per turn (log order), then one ``{"kind": "fact", key, value,
text, ts, turn, history}`` per fact of the session itself (newest first). A fact's or history
entry's ``session`` is left out when it is the exported session (it becomes the importing one).

Single-item edits (a turn deleted, a fact corrected) live here too: they write around the
log and the vectors the way an import does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from memory.errors import Conflict, InvalidInput, SessionNotFound
from memory.sessions.extract import Fact
from memory.sessions.facts import sessions_key
from memory.sessions.store import SessionMemory
from memory.sessions.turns import ROLES, Turn, validate_session
from memory.stores.redis import store_errors

FORMAT = 1


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _own(session: str, d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not (k == "session" and v in (session, ""))}


def export_session(mem: SessionMemory, session: str) -> list[str]:
    """The session as JSON lines (see the module docstring)."""
    if not mem.exists(validate_session(session)):
        raise SessionNotFound(f"no session {session!r}")
    lines = [_dump({"kind": "session", "format": FORMAT, "user": mem.user_of(session)})]
    lines += [_dump({"kind": "turn", **t.to_dict()}) for t in mem.turns(session)]
    for f in mem._facts.read([session]):
        d = _own(session, f.to_dict())
        d["history"] = [_own(session, h) for h in f.history]
        lines.append(_dump({"kind": "fact", **d}))
    return lines


def _parse(lines: Iterable[str]) -> tuple[dict[str, Any], list[Turn], list[dict[str, Any]]]:
    head: dict[str, Any] | None = None
    turns: list[Turn] = []
    facts: list[dict[str, Any]] = []
    for n, line in enumerate(x for x in lines if x.strip()):
        try:
            d = json.loads(line)
            kind = d.pop("kind")
            if kind == "session" and n == 0:
                head = d
            elif kind == "turn" and d["role"] in ROLES and str(d["text"]).strip():
                turns.append(Turn(int(d.pop("id")), str(d.pop("role")), str(d.pop("text")),
                                  float(d.pop("ts")), str(d.pop("speaker", "")),
                                  list(d.pop("when", []))))  # fmt: skip
            elif kind == "fact":
                facts.append(Fact.from_dict(d).to_dict())
            else:
                raise ValueError(kind)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"line {n + 1} of the import is not a session line") from exc
    if head is None or head.get("format") != FORMAT:
        raise InvalidInput("an import starts with the session line of format 1")
    return head, turns, facts


def import_session(mem: SessionMemory, session: str, lines: Iterable[str]) -> dict[str, int]:
    """Restore an export into ``session``, which must not exist yet (409 otherwise); turn ids,
    times and fact histories are kept, the turns embedded again. Returns what was added."""
    validate_session(session)
    head, turns, facts = _parse(lines)
    if mem.exists(session):
        raise Conflict(f"session {session!r} exists: forget it or import under a new id")
    if head.get("user"):
        mem._bind_user(session, str(head["user"]))
    turns.sort(key=lambda t: t.id)
    for i in range(0, len(turns), 64):
        mem._embed_turns(session, turns[i : i + 64], turns[i - 1] if i else None)
    for f in facts:
        f["session"] = f.get("session") or session
        for h in f["history"]:
            h["session"] = h.get("session") or session
    with store_errors():
        pipe = mem.r.pipeline(transaction=False)
        if turns:
            pipe.rpush(mem.key(session, "log"), *[json.dumps(t.to_dict()) for t in turns])
        pipe.set(mem.key(session, "seq"), max((t.id + 1 for t in turns), default=0))
        for f in facts:
            pipe.hset(mem._facts.key(session), f["key"], json.dumps(f, ensure_ascii=False))
        pipe.hsetnx(mem.key(session, "meta"), "created", time.time())
        pipe.hincrby(mem.key(session, "meta"), "rev", 1)
        pipe.sadd(sessions_key(mem.ns), session)
        pipe.execute()
    return {"turns": len(turns), "facts": len(facts)}


def delete_turn(mem: SessionMemory, session: str, turn_id: int) -> Turn:
    """Remove one turn: from the log, its vectors and its lexical entry; facts whose current
    value it stated go with it. 404 when the session has no such turn."""
    if not mem.exists(validate_session(session)):
        raise SessionNotFound(f"no session {session!r}")
    with store_errors():
        rows = mem.r.lrange(mem.key(session, "log"), 0, -1)
    row = next((r for r in rows if json.loads(r)["id"] == turn_id), None)
    if row is None:
        raise SessionNotFound(f"session {session!r} has no turn {turn_id}")
    ids = [f"t{turn_id}", f"c{turn_id}"]
    embedded = mem._sparse(session).remove(ids[:1]) > 0
    mem._vectors(session).delete(ids)
    for f in mem._facts.read([session]):
        if f.turn == str(turn_id) and f.session == session:
            mem._facts.remove([session], f.key)
    with store_errors():
        pipe = mem.r.pipeline(transaction=False)
        pipe.lrem(mem.key(session, "log"), 1, row)
        if embedded:
            pipe.hincrby(mem.key(session, "meta"), "embedded", -1)
        pipe.hincrby(mem.key(session, "meta"), "rev", 1)
        pipe.execute()
    return Turn(**json.loads(row))
