"""The CLI's fast path: read-only commands ask a running ``overlay serve`` of the same data
dir instead of starting the stores, the embedder and the model themselves.

``overlay serve`` writes ``<data dir>/run/api.json`` (its URL and process id, mode 0600)
while it runs and removes it on exit. A command finds it, checks that the process lives and
answers ``/healthz`` within a fraction of a second, and then calls the HTTP API with the
standard library only (no stores, numpy, torch or sentence-transformers are imported). A
server with API keys (multi-tenant) is not used: the CLI acts as the local tenant. Anything
unexpected — no file, a dead process, a refused connection — means the command runs
locally as before; an error the server reports (``{"error": …}``) is the command's error.
``OVERLAY_CLI_SERVER=off`` turns the fast path off.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory.errors import OverlayError
from memory.stores.localserver import pid_alive

RUN_FILE = Path("run") / "api.json"
PROBE_SECONDS = 0.5


def run_file(data_dir: Path) -> Path:
    """Where a server of ``data_dir`` announces itself."""
    return data_dir / RUN_FILE


def announce(data_dir: Path, host: str, port: int, local: bool) -> Path:
    """Write the run file of a server listening on ``host:port`` (called by ``serve``)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    path = run_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"url": f"http://{host}:{port}", "pid": os.getpid(), "local": local}, fh)
    tmp.replace(path)
    return path


def retract(data_dir: Path) -> None:
    """Remove the run file if this process wrote it."""
    path = run_file(data_dir)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


class RemoteError(OverlayError):
    """An error the running server reported for a request (its own message)."""


@dataclass
class Remote:
    """A running local-mode server of this data dir."""

    url: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             query: dict[str, Any] | None = None) -> Any:  # fmt: skip
        """The JSON answer of ``method path``; the server's error as ``RemoteError``;
        ``ConnectionError`` when it cannot be reached (the caller then runs locally)."""
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=600) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            error = RemoteError(_message(exc))
            error.status_code = exc.code  # the server's status: a 404 exits 2, as locally
            raise error from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ConnectionError(str(exc)) from None


def served(remote: Remote | None, path: str, query: dict[str, Any] | None = None) -> Any:
    """``GET path`` on ``remote``; None when there is no server or it cannot be reached
    (the command then runs locally). The server's 4xx is raised as ``RemoteError``."""
    if remote is None:
        return None
    try:
        return remote.call("GET", path, query=query)
    except ConnectionError:
        return None


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return f"the server answered {exc.code}"


def find_server(data_dir: Path) -> Remote | None:
    """The running local-mode server of ``data_dir``, or None."""
    if os.environ.get("OVERLAY_CLI_SERVER", "").lower() in ("off", "0", "false", "no"):
        return None
    try:
        info = json.loads(run_file(data_dir).read_text(encoding="utf-8"))
        pid, url, local = int(info["pid"]), str(info["url"]), bool(info["local"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not local or not pid_alive(pid):
        return None
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=PROBE_SECONDS) as resp:
            if resp.status != 200:
                return None
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return Remote(url)
