"""A session's embedded turns held in process, so that a lookup scores every turn at once.

Loaded from the stores (the log, and the vectors of ``memory.sessions.vectors``) the first
time a session is searched, and again whenever its revision moves (every append, edit or
delete bumps ``meta.rev``; the lookup reads it in the round trip it makes anyway), so
replicas behind a load balancer never serve a stale table. Scoring every turn is what lets a
turn borrow from its neighbours and its sitting (``memory.sessions.recall.rank_turns``); at
LoCoMo's size (≈ 700 turns, two vectors each) a table is ≈ 2 MB and a lookup's arithmetic
well under a millisecond. Sessions past ``MemoryConfig.index_max_turns`` are searched through
the stores' own top lists instead.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from memory.sessions.turns import Turn
from memory.stores.sparse import analyze

K1, B = 1.2, 0.75  # BM25, as memory.stores.sparse


def spoken(turn: Turn) -> str:
    """The text a turn is embedded and indexed as: ``Speaker: text`` when the speaker is known."""
    return f"{turn.speaker}: {turn.text}" if turn.speaker else turn.text


def in_context(prev: Turn | None, turn: Turn, gap: float) -> str:
    """The turn after its previous turn when both belong to one sitting (``gap`` seconds)."""
    if prev is None or turn.ts - prev.ts > gap:
        return spoken(turn)
    return f"{spoken(prev)}\n{spoken(turn)}"


def sittings(ts: Sequence[float], gap: float) -> np.ndarray:
    """Sitting number of each turn (in log order): a new one after ``gap`` seconds of quiet."""
    out = np.zeros(len(ts), dtype=np.int64)
    for i in range(1, len(ts)):
        out[i] = out[i - 1] + (ts[i] - ts[i - 1] > gap)
    return out


class Lexical:
    """BM25 over a fixed list of texts, scored all at once (``scores``)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.n = len(texts)
        tfs = [Counter(analyze(t)) for t in texts]
        lens = np.array([sum(tf.values()) for tf in tfs], dtype=np.float32)
        norm = K1 * (1 - B + B * lens / max(float(lens.mean()) if len(lens) else 1.0, 1.0))
        acc: dict[str, tuple[list[int], list[float]]] = {}
        for i, tf in enumerate(tfs):
            for term, f in tf.items():
                rows, ws = acc.setdefault(term, ([], []))
                rows.append(i)
                ws.append(f * (K1 + 1) / (f + norm[i]))
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, (rows, ws) in acc.items():
            idf = math.log(1 + (self.n - len(rows) + 0.5) / (len(rows) + 0.5))
            self.postings[term] = (np.asarray(rows), np.asarray(ws, dtype=np.float32) * idf)

    def scores(self, query: str) -> np.ndarray:
        """BM25 of every text for ``query``, shape (n,)."""
        out = np.zeros(self.n, dtype=np.float32)
        for term in dict.fromkeys(analyze(query)):
            rows, w = self.postings.get(term, (None, None))
            if rows is not None:
                out[rows] += w
        return out


@dataclass
class TurnTable:
    """Embedded turns of one session in log order, with what ranking needs of each."""

    turns: list[Turn]
    alone: np.ndarray  # (N, dim) each turn embedded alone
    context: np.ndarray  # (N, dim) each turn embedded after its previous turn
    sitting: np.ndarray  # (N,)
    lexical: Lexical  # over each turn in context


def build_table(
    turns: Sequence[Turn], vectors: dict[str, np.ndarray], gap: float, dim: int
) -> TurnTable:
    """The table of the embedded ``turns`` (log order): ``t<id>`` alone, ``c<id>`` in context
    (sessions written before context vectors fall back to the turn alone)."""
    kept = [t for t in turns if f"t{t.id}" in vectors]
    alone = np.stack([vectors[f"t{t.id}"] for t in kept]) if kept else np.zeros((0, dim))
    context = (
        np.stack([vectors.get(f"c{t.id}", vectors[f"t{t.id}"]) for t in kept])
        if kept else np.zeros((0, dim))
    )  # fmt: skip
    by_id = {t.id: i for i, t in enumerate(turns)}
    texts = [in_context(turns[by_id[t.id] - 1] if by_id[t.id] else None, t, gap) for t in kept]
    return TurnTable(kept, alone.astype(np.float32), context.astype(np.float32),
                     sittings([t.ts for t in kept], gap), Lexical(texts))  # fmt: skip


class TableCache:
    """Tables of recently searched sessions, each kept with the revision it was loaded at."""

    def __init__(self, max_sessions: int = 64) -> None:
        self._tables: OrderedDict[str, tuple[tuple[int, ...], TurnTable]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_sessions = max_sessions

    def get(self, session: str, rev: tuple[int, ...], load: Callable[[], TurnTable]) -> TurnTable:
        with self._lock:
            got = self._tables.get(session)
            if got is not None and got[0] == rev:
                self._tables.move_to_end(session)
                return got[1]
        table = load()
        with self._lock:
            self._tables[session] = (rev, table)
            self._tables.move_to_end(session)
            while len(self._tables) > self.max_sessions:
                self._tables.popitem(last=False)
        return table

    def drop(self, session: str) -> None:
        with self._lock:
            self._tables.pop(session, None)
