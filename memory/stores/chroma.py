"""Connections to ChromaDB: a ``chroma run`` server per data dir that later processes attach
to (the embedded default), an in-process ``PersistentClient``, or a server at a URL.
Telemetry is always off."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memory.errors import StoreUnavailable
from memory.stores.localserver import ServerHandle, claim_server

_NAME_OK = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,61}[a-zA-Z0-9]$")


def chroma_name(*parts: str) -> str:
    """A valid Chroma collection name for a logical name (3–63 chars, [A-Za-z0-9._-])."""
    raw = "--".join(parts)
    if _NAME_OK.match(raw) and ".." not in raw:
        return raw
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "_", raw).strip("_-")[:40] or "c"
    digest = hashlib.sha1(raw.encode()).hexdigest()[:12]
    return f"{slug}-{digest}" if slug[0].isalnum() else f"c{slug}-{digest}"


def _settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


class ChromaStore:
    """A Chroma client plus, for the embedded server, this process's claim on it."""

    def __init__(self, client: Any, handle: ServerHandle | None = None, url: str = "") -> None:
        self.client = client
        self.handle = handle
        self.url = url

    def ping(self) -> bool:
        return self.state() == "ok"

    def state(self) -> str:
        """``ok``; ``stalled`` (no answer within the timeout: stopped, hung); ``unreachable``."""
        import httpx

        if self.handle is not None and self.handle.stalled:  # its watchdog knows already
            return "stalled"
        try:
            self.client.heartbeat()
            return "ok"
        except httpx.TimeoutException:
            return "stalled"
        except Exception:  # any other transport error means "not reachable"
            return "unreachable"

    def logical_names(self, prefix: str) -> list[str]:
        """Logical names (``VectorStore.name``) of the collections starting with ``prefix``."""
        try:
            cols = self.client.list_collections()
        except Exception as exc:  # any transport error: the store is down
            raise StoreUnavailable(f"Chroma is unavailable: {type(exc).__name__}") from exc
        names = ((c.metadata or {}).get("logical_name") for c in cols)
        return sorted(n for n in names if isinstance(n, str) and n.startswith(prefix))

    def close(self) -> None:
        if self.handle is not None:
            self.handle.release()
            self.handle = None


def _chroma_ready(host: str, port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://{host}:{port}/api/v2/heartbeat", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# What the `chroma` script does, less its `import chromadb` (~2 s of CPU, beside the client's
# own start-up on a cold CLI command): the server is the Rust one, its arguments passed as is.
_RUST_CLI = "import sys, chromadb_rust_bindings as b; b.cli(['chroma', *sys.argv[1:]])"


def _chroma_binary() -> list[str]:
    """The command line that starts ``chroma ...`` (e.g. ``run``): the Rust CLI in-process."""
    import importlib.util
    import shutil
    import sys

    if importlib.util.find_spec("chromadb_rust_bindings") is not None:
        return [sys.executable, "-c", _RUST_CLI]
    exe = Path(sys.executable).parent / "chroma"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("chroma")
    if found:
        return [found]
    raise StoreUnavailable("the `chroma` command (from the chromadb package) is not installed")


def connect_chroma(
    url: str | None, data_dir: Path, mode: str = "server", timeout_s: float = 15.0
) -> ChromaStore:
    """Connect to ``url``; else the data dir's shared local server, or in-process.

    Every HTTP call waits at most ``timeout_s`` (Chroma's client sets no limit: a stalled
    server held a request, and the model worker it ran on, for as long as it stalled)."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb

    if url is None and mode == "inprocess":
        path = data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return ChromaStore(chromadb.PersistentClient(path=str(path), settings=_settings()), url="")
    handle = None
    if url is None:
        run_dir = data_dir / "run"
        path = data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        argv = _chroma_binary()
        handle = claim_server(
            run_dir,
            "chroma",
            lambda port: [
                *argv,
                "run",
                "--path",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            _chroma_ready,
            log_file=run_dir / "chroma.log",
            env={"ANONYMIZED_TELEMETRY": "False"},
        )
        url = f"http://{handle.server.address}"
    m = re.match(r"^(https?)://([^/:]+)(?::(\d+))?/?$", url)
    if not m:
        raise StoreUnavailable("the Chroma URL is invalid (expected http://host:port)", repr(url))
    scheme, host, port = (
        m.group(1),
        m.group(2),
        int(m.group(3) or (443 if m.group(1) == "https" else 8000)),
    )
    if not _answers(url, timeout_s):  # the client's own check at construction has no limit
        raise StoreUnavailable("Chroma is not reachable", f"Chroma at {url}: no heartbeat")
    try:  # the client checks the server at construction; it reports that as ValueError
        with chroma_errors("connect"):
            client = chromadb.HttpClient(
                host=host, port=port, ssl=scheme == "https", settings=_settings()
            )
    except ValueError as exc:
        raise StoreUnavailable("Chroma is not reachable", f"Chroma at {url}: {exc}") from exc
    _limit(client, timeout_s, handle)
    return ChromaStore(client, handle, url)


def _answers(url: str, timeout_s: float) -> bool:
    import httpx

    try:
        return httpx.get(f"{url.rstrip('/')}/api/v2/heartbeat", timeout=timeout_s).is_success
    except httpx.HTTPError:
        return False


def _limit(client: Any, timeout_s: float, handle: ServerHandle | None) -> None:
    """Put ``timeout_s`` on the HTTP session inside chromadb's client (created with none);
    for the embedded server, refuse calls at once while its watchdog finds it stalled."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise StoreUnavailable("this chromadb version's HTTP client cannot be given a timeout")
    session.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0))
    if handle is not None:

        def refuse_if_stalled(request: httpx.Request) -> None:
            if handle.stalled:
                raise httpx.ConnectError("the embedded Chroma is stalled", request=request)

        session.event_hooks["request"].append(refuse_if_stalled)


class ChromaMissing(Exception):
    """A collection asked for by name does not exist (Chroma's ``NotFoundError``)."""


@contextlib.contextmanager
def chroma_errors(what: str) -> Iterator[None]:
    """The one place that maps Chroma failures.

    A transport failure, a timeout or the server's own 5xx (named or not) becomes
    ``StoreUnavailable`` (its address and words go to ``detail``, for the log); a missing
    collection becomes ``ChromaMissing`` for the caller to decide; anything else — an
    argument Chroma refuses is our bug, not the caller's — propagates unchanged and ends as
    a logged 500.
    """
    import httpx
    from chromadb import errors as cerr

    try:
        yield
    except cerr.NotFoundError as exc:
        raise ChromaMissing(str(exc)) from exc
    except (httpx.TransportError, ConnectionError, cerr.InternalError) as exc:
        raise StoreUnavailable(
            "Chroma is unavailable; retry shortly", f"{what}: {type(exc).__name__}: {exc}"
        ) from exc
    except (cerr.RateLimitError, cerr.QuotaError) as exc:
        raise StoreUnavailable("Chroma is overloaded; retry shortly", f"{what}: {exc}") from exc
    except Exception as exc:
        # chromadb raises a bare ``Exception(body)`` for a server error it has no class for
        # (e.g. "Missing metadata segment" while a collection is dropped): the server failed
        if type(exc) is not Exception:
            raise
        raise StoreUnavailable("Chroma failed; retry shortly", f"{what}: {exc}") from exc
