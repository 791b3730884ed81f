"""The CLI and two API processes with ``OVERLAY_REDIS_CLUSTER=true`` on a real 3-master cluster.

Ingest, re-ingest, sparse and hybrid retrieval, session memory (written through
one replica, read through the other), session facts, taught facts, feedback and
forget — every Redis key of it on the cluster, every vector on the shared
``chroma run`` server.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from typer.testing import CliRunner

from memory.embeddings import SentenceEmbedder
from overlay.choosing.feedback import record_turn
from overlay.cli import _register, app
from overlay.services import Services
from tests.api.test_api_processes import _env, serve  # noqa: F401  (the fixture)
from tests.rediscluster import LocalCluster


def _cluster_env(cluster: LocalCluster, data: Path, chroma_url: str = "") -> dict[str, str]:
    """The cluster's seed node; the given Chroma server, or the data dir's own."""
    env = _env(OVERLAY_REDIS_URL=cluster.url, OVERLAY_REDIS_CLUSTER="true",
               OVERLAY_DATA_DIR=str(data))  # fmt: skip
    return env | ({"OVERLAY_CHROMA_URL": chroma_url} if chroma_url else {})


def _cli(env: dict[str, str], *args: str) -> dict:
    _register()
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_over_the_cluster(
    redis_cluster: LocalCluster, cluster_base_services: Services,
    minilm: SentenceEmbedder, tmp_path: Path,
) -> None:  # fmt: skip
    coll = "cli" + uuid.uuid4().hex[:6]
    # the CLI's tenant is "local": its own Chroma, so no other test meets its collections
    env = _cluster_env(redis_cluster, tmp_path / "data")
    env["OVERLAY_COLLECTION"] = coll
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "storm.txt").write_text("The barometer falls before a storm over Bergen.")
    (docs / "lunch.txt").write_text("Lunch is served at noon in the cafeteria.")
    _cli(env, "ingest", str(docs))
    (docs / "lunch.txt").write_text("Lunch moved to one o'clock; the cafeteria opens later.")
    _cli(env, "ingest", str(docs))  # re-ingest: one changed source
    for method in ("sparse", "hybrid"):
        out = _cli(env, "retrieve", "when is lunch served", "-m", method, "-k", "1")
        text = json.dumps(out)
        assert "one o'clock" in text and "noon" not in text, (method, text)
    _cli(env, "facts", "add", "Bergen", "weather", "rainy")
    assert "rainy" in json.dumps(_cli(env, "facts", "get", "Bergen", "weather"))

    c = cluster_base_services  # the CLI's tenant and embedder, on the cluster
    local = Services(c.settings, c.redis, c.chroma, minilm, tenant="local")  # < 256 turns: Redis
    sid = "cli-" + uuid.uuid4().hex[:6]
    local.session_memory.append(sid, [{"role": "user", "content": "My dog is called Pixel."}])
    assert "Pixel" in json.dumps(_cli(env, "memory", "search", sid, "what is my dog called"))
    _cli(env, "memory", "forget", sid)
    assert not local.session_memory.exists(sid)


def test_two_api_replicas_over_the_cluster(
    base_services: Services, redis_cluster: LocalCluster, cluster_base_services: Services,
    tmp_path: Path, serve,  # noqa: F811
) -> None:  # fmt: skip
    tenant = "cl" + uuid.uuid4().hex[:8]
    env = _cluster_env(redis_cluster, tmp_path / "data", str(base_services.chroma.url))
    env["OVERLAY_API_KEYS"] = json.dumps({"cluster-key": tenant})
    a, b = serve(env), serve(env)
    with httpx.Client(headers={"Authorization": "Bearer cluster-key"}, timeout=60) as c:
        coll = "kb"
        for text in ("Lunch is served at noon.", "Lunch is served at one o'clock."):
            doc = {"source": "lunch.md", "text": text, "collection": coll}
            assert c.post(f"{a}/v1/documents", json=doc).is_success  # ingest, then re-ingest
        for url, method in ((a, "sparse"), (b, "hybrid")):
            body = {"query": "when is lunch", "method": method, "k": 3, "collection": coll}
            hits = c.post(f"{url}/v1/retrieve", json=body).json()["results"]
            assert [h["text"] for h in hits] == ["Lunch is served at one o'clock."], method

        sid = "s-" + uuid.uuid4().hex[:6]
        turns = [{"role": "user", "content": "My name is Ada and my dog is called Pixel."}]
        assert c.post(f"{a}/v1/sessions/{sid}/turns", json={"turns": turns}).is_success
        mem = c.get(f"{b}/v1/sessions/{sid}/memory", params={"q": "what is my dog called?"})
        assert "Pixel" in mem.json()["results"][0]["text"]
        assert "Ada" in json.dumps(c.get(f"{b}/v1/sessions/{sid}/facts").json())

        fact = {"subject": "Bergen", "relation": "weather", "object": "rainy"}
        assert c.post(f"{a}/v1/facts", json=fact).is_success
        got = c.get(f"{b}/v1/facts", params={"subject": "Bergen", "relation": "weather"})
        assert got.json()["facts"][0]["object"] == "rainy"

        asked = cluster_base_services.for_tenant(tenant)  # a logged ask turn, on the cluster
        turn = record_turn(asked, "lunch", ["x", "y"], ["y"], coll)
        vote = c.post(f"{b}/v1/feedback", json={"turn_id": turn.turn_id, "helpful": True})
        assert vote.is_success and vote.json()["candidates"] == ["y"], vote.text

        assert c.delete(f"{b}/v1/sessions/{sid}").is_success
        assert c.get(f"{a}/v1/sessions/{sid}").status_code == 404
