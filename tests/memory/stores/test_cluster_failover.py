"""A master of a 3-master + 3-replica Redis Cluster is SIGKILLed mid-conversation.

What a client sees: appends to the session whose slot the dead master served
fail with ``StoreUnavailable`` (a clear 503 at the API) until a replica is
promoted (cluster-node-timeout 1 s here), then succeed again on the new master
without any reconfiguration. What survives: Redis Cluster replicates
asynchronously, so it documents that an acknowledged write can be lost if the
master dies before its replica got it; ``WAIT 1`` after a write closes that
window (the write is on a replica before we count it as acknowledged). Every
turn acknowledged that way is in the session's log after the failover.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.embeddings import HashEmbedder
from memory.errors import StoreUnavailable
from memory.stores.redis import connect_redis
from overlay.services import Services
from tests.rediscluster import LocalCluster, start_cluster


@pytest.fixture
def ha_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = start_cluster(tmp_path / "ha", masters=3, replicas=1)
    yield cluster
    cluster.stop()


def _master_port(client, key: str) -> int:
    return int(client.get_node_from_key(key).port)


def test_master_killed_replica_promoted_nothing_acknowledged_lost(
    ha_cluster: LocalCluster, base_services: Services
) -> None:
    settings = base_services.settings.updated(
        **{"redis_url": ha_cluster.url, "redis_cluster": True}
    )
    store = connect_redis(ha_cluster.url, settings.data_dir, cluster=True)
    tenant = "fo" + uuid.uuid4().hex[:8]
    svc = Services(settings, store, base_services.chroma, HashEmbedder(), tenant)
    mem = svc.session_memory
    client = store.client
    log_key = mem.key("talk", "log")
    victim = _master_port(client, log_key)

    acked: list[str] = []
    timeline: list[tuple[float, str]] = []  # (seconds since the kill, outcome)
    killed_at = None
    i = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = f"turn number {i}"
        i += 1
        if len(acked) == 10 and killed_at is None:
            ha_cluster.kill(victim)
            killed_at = time.monotonic()
        try:
            mem.append("talk", [{"role": "user", "content": text}], extract=False)
            node = client.get_node_from_key(log_key)
            replicated = client.execute_command("WAIT", 1, 500, target_nodes=node)
        except StoreUnavailable as exc:
            timeline.append((time.monotonic() - (killed_at or 0), f"error: {exc.message}"))
            time.sleep(0.2)
            continue
        if int(replicated) >= 1:
            acked.append(text)
        if killed_at is not None:
            # the promoted master has no replica left: WAIT 1 now times out (0 replicas)
            timeline.append((time.monotonic() - killed_at, f"ok, on {replicated} replicas"))
            if sum(1 for _, o in timeline if o.startswith("ok")) >= 3:
                break
    print("\n".join(f"{t:6.2f}s {o}" for t, o in timeline))  # what the client saw

    assert killed_at is not None
    assert _master_port(client, log_key) != victim  # a replica was promoted
    assert timeline[-1][1].startswith("ok")  # writes succeed again, with no reconfiguration
    errors = [o for _, o in timeline if not o.startswith("ok")]
    assert all("unavailable" in o or "retry" in o for o in errors), errors
    logged = [t.text for t in mem.turns("talk")]
    # nothing acknowledged (with WAIT) is lost
    assert len(acked) >= 10 and set(acked) <= set(logged), set(acked) - set(logged)
    assert logged == sorted(logged, key=lambda s: int(s.rsplit(" ", 1)[1]))  # in order
    store.close()
