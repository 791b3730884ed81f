"""The embedded servers: one per data dir, shared by processes, stopped by the last one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memory.errors import StoreUnavailable
from memory.stores.localserver import pid_alive, port_open
from memory.stores.redis import connect_redis


def test_second_process_attaches_to_the_same_redis(tmp_path: Path) -> None:
    first = connect_redis(None, tmp_path)
    first.client.set("k", "from-first")
    server = first.handle.server if first.handle else None
    assert server is not None
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from memory.stores.redis import connect_redis
        s = connect_redis(None, Path({str(tmp_path)!r}))
        print(s.client.get("k"), s.handle.server.port)
        s.client.set("k2", "from-second")
        s.close()
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    value, port = out.stdout.split()
    assert value == "from-first" and int(port) == server.port
    # the second process left, but the first still uses the server: it must still run
    assert pid_alive(server.pid) and first.client.get("k2") == "from-second"
    first.close()
    assert not port_open(server.host, server.port)


def test_redis_data_persists_across_restarts(tmp_path: Path) -> None:
    s = connect_redis(None, tmp_path)
    s.client.set("durable", "yes")
    s.close()
    again = connect_redis(None, tmp_path)
    try:
        assert again.client.get("durable") == "yes"
    finally:
        again.close()


def test_killed_owner_leaves_a_server_the_next_process_reuses(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from memory.stores.redis import connect_redis
        s = connect_redis(None, Path({str(tmp_path)!r}))
        s.client.set("before-kill", "1")
        print(s.handle.server.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    pid = int(out.stdout.split()[0])
    s = connect_redis(None, tmp_path)
    try:
        assert s.handle is not None and s.handle.server.pid == pid
        assert s.client.get("before-kill") == "1"
    finally:
        s.close()
    assert not pid_alive(pid)


def test_unreachable_redis_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="not reachable"):
        connect_redis("redis://127.0.0.1:1/0", tmp_path)
