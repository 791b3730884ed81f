"""Session memory on the real stores (hashing embedder): logs, facts, scopes, forgetting."""

from __future__ import annotations

import threading

import pytest

from memory.errors import Conflict, InvalidInput, SessionNotFound
from memory.stores.chroma import chroma_name
from overlay import remembering
from overlay.services import Services


@pytest.fixture
def services(services_both: Services) -> Services:
    """Every test here runs on the single Redis server and on the Redis Cluster."""
    return services_both


def _say(svc: Services, session: str, *texts: str, user: str | None = None) -> int:
    turns = [{"role": "user", "content": t} for t in texts]
    return remembering.append_turns(svc, session, turns, user=user)


def test_import_logs_turns_in_order_with_ids_and_timestamps(services: Services) -> None:
    turns = [
        {"role": "user", "content": "hello there", "ts": 1000.0},
        {"role": "assistant", "content": "hi, how can I help?", "ts": 1001.0},
    ]
    assert remembering.append_turns(services, "s1", turns) == 2
    assert _say(services, "s1", "one more") == 1
    shown = remembering.show_session(services, "s1")
    assert [(t["id"], t["role"], t["text"]) for t in shown["turns"]] == [
        (0, "user", "hello there"), (1, "assistant", "hi, how can I help?"), (2, "user", "one more")
    ]  # fmt: skip
    assert shown["turns"][0]["ts"] == 1000.0 and shown["count"] == 3
    assert [t["id"] for t in remembering.show_session(services, "s1", last=1)["turns"]] == [2]
    # only user turns are embedded by default
    mem = services.session_memory
    assert mem._vectors("s1").count() == 2


def test_bad_input_is_refused(services: Services) -> None:
    with pytest.raises(InvalidInput):
        remembering.append_turns(services, "s1", [{"role": "robot", "content": "x"}])
    with pytest.raises(InvalidInput):
        remembering.append_turns(services, "s1", [{"role": "user", "content": "  "}])
    with pytest.raises(InvalidInput):
        remembering.append_turns(services, "bad id!", [{"role": "user", "content": "x"}])
    with pytest.raises(SessionNotFound):
        remembering.memory_search(services, "never-seen", "x")
    with pytest.raises(SessionNotFound):
        remembering.forget_session(services, "never-seen")


def test_supersession_keeps_history(services: Services) -> None:
    _say(services, "s", "My name is Alex.", "I live in Oslo.", "what's the weather like")
    _say(services, "s", "actually, call me Bob")
    facts = {f.key: f for f in remembering.session_facts(services, "s")}
    assert facts["name"].value == "Bob"
    assert [h["value"] for h in facts["name"].history] == ["Alex"]
    assert facts["name"].history_line() == "name: Alex → Bob"
    assert facts["city"].value == "Oslo" and facts["city"].turn == "1"
    hits = remembering.memory_search(services, "s", "what is my name", 3)
    assert hits[0].kind == "fact" and hits[0].text == "my name is Bob"
    assert hits[0].metadata["history"] == "name: Alex → Bob"
    out = remembering.memory_result(hits[0])
    assert {"id", "kind", "text", "score", "ts"} <= set(out)


def test_the_latest_statement_wins_across_a_users_sessions(services: Services) -> None:
    # a fact's time is its turn's (given here, as an import gives it), not the order of
    # the writes nor the wall clock: the later statement wins though it was written first
    def said(text: str, ts: float) -> list[dict[str, object]]:
        return [{"role": "user", "content": text, "ts": ts}]

    remembering.append_turns(services, "u-2", said("My name is Bob.", 2000.0), user="u")
    remembering.append_turns(services, "u-1", said("My name is Ada.", 1000.0), user="u")
    for session in ("u-1", "u-2"):
        (name,) = [f for f in remembering.session_facts(services, session) if f.key == "name"]
        assert (name.value, name.ts) == ("Bob", 2000.0), session
        assert [(h["value"], h["ts"]) for h in name.history] == [("Ada", 1000.0)], session


def test_explicit_facts_add_list_remove(services: Services) -> None:
    fact = remembering.add_fact(services, "s", "Favourite Colour", "teal")
    assert (fact.key, fact.value) == ("favourite colour", "teal")
    remembering.add_fact(services, "s", "favourite colour", "green")
    (only,) = remembering.session_facts(services, "s")
    assert only.history_line() == "favourite colour: teal → green"
    assert remembering.remove_fact(services, "s", "favourite colour") == 1
    assert remembering.session_facts(services, "s") == []
    with pytest.raises(SessionNotFound):
        remembering.remove_fact(services, "s", "favourite colour")


def test_session_user_and_tenant_isolation(services: Services) -> None:
    _say(services, "a1", "My name is Ada.", "I live in Bergen.", user="ada")
    _say(services, "a2", "I prefer tea.", user="ada")
    _say(services, "b1", "My name is Ben.", "I live in Tromsø.", user="ben")
    _say(services, "c1", "My name is Cy.")  # no user
    other = services.for_tenant(services.tenant + "x")
    _say(other, "a1", "My name is Eve.", user="ada")

    def values(svc: Services, session: str) -> dict[str, str]:
        return {f.key: f.value for f in remembering.session_facts(svc, session)}

    # a user's facts span that user's sessions, and no one else's
    assert values(services, "a2") == {"name": "Ada", "city": "Bergen", "preference": "tea"}
    assert values(services, "b1") == {"name": "Ben", "city": "Tromsø"}
    assert values(services, "c1") == {"name": "Cy"}
    assert values(other, "a1") == {"name": "Eve"}
    for svc, session, own in [(services, "a2", "Ada"), (services, "b1", "Ben"),
                              (services, "c1", "Cy"), (other, "a1", "Eve")]:  # fmt: skip
        texts = " ".join(h.text for h in remembering.memory_search(svc, session, "name", 10))
        foreign = {"Ada", "Ben", "Cy", "Eve"} - {own}
        assert own in texts and not any(name in texts for name in foreign), (session, texts)
    with pytest.raises(Conflict):
        _say(services, "a1", "hello", user="ben")  # a session belongs to one user


def test_ten_concurrent_sessions_do_not_leak(services: Services) -> None:
    errors: list[BaseException] = []

    def talk(i: int) -> None:
        try:
            for j in range(12):
                _say(services, f"c{i}", f"secret{i} message {j} token{i}x")
            _say(services, f"c{i}", f"My name is Person{i}.")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=talk, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(10):
        shown = remembering.show_session(services, f"c{i}")
        assert shown["count"] == 13 and all(f"secret{i} " in t["text"] for t in shown["turns"][:12])
        assert sorted(t["id"] for t in shown["turns"]) == list(range(13))
        hits = remembering.memory_search(services, f"c{i}", "secret message token name", 20)
        for h in hits:
            assert f"secret{i} " in h.text or f"Person{i}" in h.text, h.text
            assert not any(f"Person{n}" in h.text for n in range(10) if n != i)


def test_forget_leaves_no_trace(services: Services) -> None:
    _say(services, "gone", "My name is Zed.", "remember that the code is 1234", user="zed")
    _say(services, "kept", "My name is Kim.")
    mem = services.session_memory
    r = services.redis.client
    assert any("gone" in k for k in r.scan_iter(f"{services.namespace}:*"))
    remembering.forget_session(services, "gone")
    assert not any("gone" in k for k in r.scan_iter(f"{services.namespace}:*"))
    assert "gone" not in r.smembers(mem.user_key("zed"))
    cols = {c.name for c in services.chroma.client.list_collections()}
    assert chroma_name(mem.collection_name("gone")) not in cols
    assert mem._vectors("kept").count() == 1  # a small session's vectors live in Redis
    assert [f.value for f in remembering.session_facts(services, "kept")] == ["Kim"]
    with pytest.raises(SessionNotFound):
        remembering.show_session(services, "gone")
    # the id can be used again, starting empty
    _say(services, "gone", "hello again")
    assert remembering.show_session(services, "gone")["turns"][0]["id"] == 0


def test_lexical_half_of_a_lookup_is_per_session_and_forgotten(services: Services) -> None:
    filler = [f"Tell me about the weather ({i})" for i in range(30)]
    _say(services, "a", "The zephyrine valve is broken.", *filler)
    _say(services, "a:b", *filler, "The zephyrine valve works again.")
    hits = remembering.memory_search(services, "a", "is the zephyrine valve broken?", 3)
    assert hits[0].text == "The zephyrine valve is broken." and hits[0].metadata["lexical"] == 1.0
    remembering.forget_session(services, "a")
    r = services.redis.client
    assert not list(r.scan_iter(f"{services.namespace}:w:bm25:{{{services.namespace}/mem|a}}:*"))
    hits = remembering.memory_search(services, "a:b", "zephyrine", 3)
    assert hits[0].text == "The zephyrine valve works again." and hits[0].metadata["lexical"] == 1.0
