"""Idempotency claims are leases, a reused key with another body is refused, and composite
keys are unambiguous (issue 21: 2, 8)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from memory.errors import Conflict, KeyReused
from memory.tables.idempotency import HOST, Idempotency, clear_dead_claims, fingerprint
from memory.tables.taught import TaughtFacts


def _idem(services, lease_s: float = 30.0) -> Idempotency:
    return Idempotency(services.redis.client, services.namespace, lease_s=lease_s)


def test_a_claim_whose_server_died_expires_with_its_short_lease(services) -> None:
    idem = _idem(services, lease_s=0.5)
    done, claim = idem.begin("docs:x", "k1", "fp")
    assert done is None and claim  # claimed; then the process "dies": nobody renews
    with pytest.raises(Conflict):
        idem.begin("docs:x", "k1", "fp")
    time.sleep(0.7)  # the lease runs out (the fault itself takes this time)
    assert idem.run("docs:x", "k1", lambda: {"ok": 1}, "fp") == {"ok": 1}


def test_a_live_claim_is_renewed_while_its_work_runs(services) -> None:
    idem = _idem(services, lease_s=0.3)
    started, release = threading.Event(), threading.Event()

    def work() -> dict[str, int]:
        started.set()
        release.wait(10)
        return {"n": 1}

    t = threading.Thread(target=lambda: idem.run("turns:s", "k2", work, "fp"))
    t.start()
    started.wait(10)
    time.sleep(1.0)  # three leases: without renewal the claim would be gone
    with pytest.raises(Conflict, match="still running"):
        idem.begin("turns:s", "k2", "fp")
    release.set()
    t.join(10)
    assert idem.run("turns:s", "k2", lambda: {"n": 2}, "fp") == {"n": 1}


def test_start_up_recovery_clears_claims_of_a_dead_process(services) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    idem = _idem(services)
    k = idem._k("docs:y", "k3")
    claim = {"state": "pending", "fp": "", "owner": f"{HOST}/{dead.pid}/x"}
    services.redis.client.set(k, json.dumps(claim), px=60_000)
    _, live = idem.begin("docs:y", "k4")  # this process's claim: alive, but stale at start
    assert clear_dead_claims(services.redis.client) >= 2
    assert services.redis.client.get(k) is None
    assert idem.run("docs:y", "k3", lambda: {"ok": 3}) == {"ok": 3}


def test_a_key_reused_with_another_body_is_refused(services) -> None:
    idem = _idem(services)
    first = idem.run("docs:c", "k5", lambda: {"v": 1}, fingerprint("r1.md", b"one"))
    again = idem.run("docs:c", "k5", lambda: {"v": 9}, fingerprint("r1.md", b"one"))
    assert first == again == {"v": 1}
    with pytest.raises(KeyReused):
        idem.run("docs:c", "k5", lambda: {"v": 2}, fingerprint("r2.md", b"two"))
    assert fingerprint("ab", "c") != fingerprint("a", "bc")


def test_scopes_and_keys_with_colons_do_not_share_an_entry(services) -> None:
    idem = _idem(services)
    assert idem.run("turns:a", "b:c", lambda: {"s": "a"}) == {"s": "a"}
    assert idem.run("turns:a:b", "c", lambda: {"s": "a:b"}) == {"s": "a:b"}


def test_taught_fact_keys_keep_subject_and_relation_apart(services) -> None:
    facts = TaughtFacts(services.weights)
    facts.add("a:b", "c", "first")
    facts.add("a", "b:c", "second")
    assert [f.object for f in facts.get("a:b", "c")] == ["first"]
    assert [f.object for f in facts.get("a", "b:c")] == ["second"]
    facts.add("plain subject", "is", "kept")  # a key without ':' or '%' is written as before
    assert services.weights.get(services.weights.key("fact", "plain subject", "is"))


def test_over_http_key_reuse_is_422_and_colon_scopes_both_write(services) -> None:
    from fastapi.testclient import TestClient

    from tests.apiserver import make_app

    with TestClient(make_app(services)) as client:
        one = {"turns": [{"role": "user", "content": "My cat is called Tiger."}]}
        r = client.post("/v1/sessions/a/turns", json=one, headers={"Idempotency-Key": "b:c"})
        r2 = client.post("/v1/sessions/a:b/turns", json=one, headers={"Idempotency-Key": "c"})
        assert r.status_code == r2.status_code == 200, r2.text
        assert client.get("/v1/sessions/a:b").json()["count"] == 1  # written, not just acked
        other = {"turns": [{"role": "user", "content": "My dog is called Rex."}]}
        r3 = client.post("/v1/sessions/a/turns", json=other, headers={"Idempotency-Key": "b:c"})
        assert r3.status_code == 422 and r3.json()["error"]["type"] == "idempotency_key_reused"
