"""Session memory and taught facts as library calls (the CLI and the HTTP API call these).

The stores come from ``Services`` (``session_memory``, ``taught_facts``); the JSON shapes
from ``overlay.remembering.records``; the chat turn's memory step from ``.step``.

HTTP shapes built from these functions:
- ``POST /v1/sessions/{id}/turns``   → ``{"session_id", "added": append_turns(...)}``
- ``GET /v1/sessions/{id}/memory``   → ``{"session_id", "results": [memory_result(h) …]}``
- ``GET|POST /v1/sessions/{id}/facts`` → ``session_facts`` / ``add_fact``
- ``DELETE /v1/sessions/{id}``       → ``forget_session``
- ``GET|POST /v1/facts``             → ``get_taught_facts`` / ``teach_fact``
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from memory.errors import InvalidInput, SessionNotFound
from memory.sessions import portable
from memory.sessions.extract import Fact, normalise_key
from memory.sessions.store import SessionMemory
from memory.sessions.turns import validate_session
from memory.tables.taught import TaughtFact
from memory.types import Hit
from overlay.remembering.records import fact_result
from overlay.services import Services


def _known(mem: SessionMemory, session: str) -> None:
    if not mem.exists(validate_session(session)):
        raise SessionNotFound(f"no session {session!r}")


# --- turns -------------------------------------------------------------------------


def append_turns(
    services: Services, session: str, turns: Sequence[dict[str, Any]], user: str | None = None
) -> int:
    """Append turns ({role, content, ts?}) without generating; returns how many were added."""
    if not isinstance(turns, Sequence) or isinstance(turns, str):
        raise InvalidInput("turns must be a list of {role, content, ts?}")
    return len(services.session_memory.append(session, turns, user=user))


def log_turn(
    services: Services, session: str, role: str, text: str, user: str | None = None
) -> int:
    """Log one turn of a live chat (facts extracted, no model call); returns its turn id."""
    return services.session_memory.append(session, [{"role": role, "content": text}], user)[0].id


def parse_time(value: str | float | None) -> float | None:
    """Epoch seconds from ``value``: a number, or an ISO date/time ("2023-05-07",
    "2023-05-07T14:00", UTC unless it says otherwise); None stays None."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        stamp = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(f"invalid time {value!r}: use epoch seconds or an ISO date") from exc
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def memory_search(
    services: Services, session: str, q: str, k: int = 5, must_exist: bool = True,
    since: str | float | None = None, until: str | float | None = None,
) -> list[Hit]:  # fmt: skip
    """Earlier turns and facts of ``session`` most relevant to ``q``, best first; with
    ``since``/``until`` (epoch seconds or ISO dates), only those said in that window."""
    mem = services.session_memory
    if must_exist:
        _known(mem, session)
    if not 1 <= k <= 100:
        raise InvalidInput("k must be between 1 and 100")
    return mem.search(session, q, k, since=parse_time(since), until=parse_time(until))


def show_session(services: Services, session: str, last: int | None = None) -> dict[str, Any]:
    """Everything the session holds: its user, turns (the last ``last``) and facts."""
    mem = services.session_memory
    _known(mem, session)
    start = -last if last else 0
    return {
        "session_id": session,
        "user": mem.user_of(session),
        "count": mem.count(session),
        "turns": [t.to_dict() for t in mem.turns(session, start, -1)],
        "facts": [fact_result(f) for f in mem.facts(session)],
    }


def forget_session(services: Services, session: str) -> None:
    """Remove every trace of ``session`` from Redis and Chroma (404 if unknown)."""
    mem = services.session_memory
    _known(mem, session)
    mem.forget(session)


# --- session facts -----------------------------------------------------------------


def session_facts(services: Services, session: str) -> list[Fact]:
    mem = services.session_memory
    _known(mem, session)
    return mem.facts(session)


def add_fact(services: Services, session: str, key: str, value: str) -> Fact:
    """Set a fact by hand (supersedes the key's value, keeping history)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("a fact needs a non-empty value")
    key = normalise_key(key)
    value = value.strip()
    text = f"my {key} is {value}"
    mem = services.session_memory
    mem.set_fact(session, Fact(key=key, value=value, text=text))
    return next(f for f in mem.facts(session) if f.key == key)


def remove_fact(services: Services, session: str, key: str) -> int:
    mem = services.session_memory
    _known(mem, session)
    key = key if key.startswith("note:") else normalise_key(key)
    removed = mem.remove_fact(session, key)
    if not removed:
        raise SessionNotFound(f"session {session!r} has no fact {key!r}")
    return removed


# --- taught facts --------------------------------------------------------------------


def teach_fact(
    services: Services, subject: str, relation: str, obj: str, weight: float | None = None
) -> TaughtFact:
    """Store (subject, relation) → object in the weight table; a new object goes on top."""
    return services.taught_facts.add(subject, relation, obj, weight)


def get_taught_facts(
    services: Services, subject: str | None = None, relation: str | None = None
) -> list[TaughtFact]:
    """Taught facts: all objects of (subject, relation), or the best of each pair."""
    tf = services.taught_facts
    if subject and relation:
        return tf.get(subject, relation)
    return tf.list_facts(subject)


def remove_taught_fact(
    services: Services, subject: str, relation: str, obj: str | None = None
) -> None:
    services.taught_facts.remove(subject, relation, obj)


# --- portable memory and single edits ---------------------------------------------------


def export_session(services: Services, session: str) -> list[str]:
    """The session as JSON lines: turns with their times, facts with their history."""
    return portable.export_session(services.session_memory, session)


def import_session(services: Services, session: str, lines: Iterable[str]) -> dict[str, int]:
    """Restore an export into a new session id (409 if it exists); ``{"turns", "facts"}``."""
    return portable.import_session(services.session_memory, session, lines)


def delete_turn(services: Services, session: str, turn_id: int) -> dict[str, Any]:
    """Remove one turn (and the facts it stated) from the session; the removed turn."""
    return portable.delete_turn(services.session_memory, session, turn_id).to_dict()


def correct_fact(services: Services, session: str, key: str, value: str) -> Fact:
    """Correct an existing fact (404 if the session has none under ``key``); the old value
    stays in its history."""
    key = key if key.startswith("note:") else normalise_key(key)
    if not any(f.key == key for f in session_facts(services, session)):
        raise SessionNotFound(f"session {session!r} has no fact {key!r}")
    if key.startswith("note:"):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput("a fact needs a non-empty value")
        services.session_memory.set_fact(session, Fact(key, value.strip(), value.strip()))
        return next(f for f in services.session_memory.facts(session) if f.key == key)
    return add_fact(services, session, key, value)
