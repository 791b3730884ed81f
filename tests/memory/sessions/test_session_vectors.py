"""Where a session's vectors live: Redis while small, its own Chroma collection past a size."""

from __future__ import annotations

import pytest

from memory.sessions.store import SessionMemory
from memory.sessions.turns import MemoryConfig
from memory.sessions.vectors import MOVED
from memory.stores.chroma import chroma_name
from overlay.services import Services


@pytest.fixture
def services(services_both: Services) -> Services:
    return services_both


def _memory(services: Services, at: int) -> SessionMemory:
    cfg = MemoryConfig(redis_vectors_max=at)
    return SessionMemory(
        services.redis.client, services.chroma, services.embedder, services.namespace, cfg
    )


def _in_chroma(services: Services, mem: SessionMemory, session: str) -> bool:
    names = {c.name for c in services.chroma.client.list_collections()}
    return chroma_name(mem.collection_name(session)) in names


def _say(mem: SessionMemory, session: str, *texts: str) -> None:
    mem.append(session, [{"role": "user", "content": t} for t in texts], extract=False)


def test_a_session_moves_to_chroma_past_the_size_and_finds_the_same(services: Services) -> None:
    mem, r = _memory(services, 5), services.redis.client
    _say(mem, "s", *[f"the {w} gauge reads low" for w in ("red", "blue", "green", "grey", "tan")])
    # two vectors a turn: alone and after its previous turn
    assert r.hlen(mem.key("s", "vec")) == 2 * 5 and not _in_chroma(services, mem, "s")
    before = [h.text for h in mem.search("s", "which gauge is blue", 3)]
    assert before[0] == "the blue gauge reads low"

    _say(mem, "s", "the violet gauge reads high")  # the 6th turn: the session moves
    assert r.hkeys(mem.key("s", "vec")) == [MOVED] and _in_chroma(services, mem, "s")
    assert mem._vectors("s").count() == 6
    assert [h.text for h in mem.search("s", "which gauge is blue", 3)][0] == before[0]
    assert mem.search("s", "violet gauge high", 1)[0].text == "the violet gauge reads high"
    _say(mem, "s", "the amber gauge reads zero")  # later turns go straight to Chroma
    assert r.hkeys(mem.key("s", "vec")) == [MOVED] and mem._vectors("s").count() == 7

    mem.forget("s")
    assert not r.exists(mem.key("s", "vec")) and not _in_chroma(services, mem, "s")


def test_a_session_written_before_this_layout_is_read_from_chroma(services: Services) -> None:
    mem, r = _memory(services, 256), services.redis.client
    old = mem._collection("old")  # as the previous code wrote it: vectors in Chroma only
    metas = [{"kind": "turn", "role": "user", "turn": i, "source": "session:old"} for i in (0, 1)]
    old.add(["t0", "t1"], ["my boat is called Wave", "the weather is fine"], metas)
    r.set(mem.key("old", "seq"), 2)
    r.hset(mem.key("old", "meta"), "embedded", 2)
    assert mem.search("old", "what is my boat called", 1)[0].text == "my boat is called Wave"
    _say(mem, "old", "my car is called Dash")  # joins the others in Chroma
    assert r.hkeys(mem.key("old", "vec")) == [MOVED] and old.count() == 2 + 2
    assert mem.search("old", "what is my car called", 1)[0].text == "my car is called Dash"
