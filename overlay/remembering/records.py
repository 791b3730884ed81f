"""The JSON shapes of memories and facts, shared by the CLI's ``--json`` and the HTTP API."""

from __future__ import annotations

from typing import Any

from memory.sessions.extract import Fact
from memory.types import Hit


def memory_result(hit: Hit) -> dict[str, Any]:
    """The HTTP/JSON shape of one memory: ``{id, kind, text, score, ts}`` (+ details)."""
    meta = hit.metadata
    out = {"id": hit.id, "kind": hit.kind, "text": hit.text, "score": round(hit.score, 6)}
    out["ts"] = meta.get("ts")
    for extra in ("role", "key", "value", "history", "session"):
        if meta.get(extra) is not None:
            out[extra] = meta[extra]
    return out


def fact_result(fact: Fact) -> dict[str, Any]:
    return {**fact.to_dict(), "history_line": fact.history_line()}
