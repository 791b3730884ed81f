"""LoCoMo development conversations through session memory: import, evidence recall, answers.

Used by bench/memory_bench.py. LoCoMo is CC BY-NC: read from ../shared/data at run time,
never copied into the product. Weights were tuned on conversations 47-49; 50 is held out
(``HELD_OUT``) and reported on its own.
"""

from __future__ import annotations

import json
import re
import string
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from nltk.stem import PorterStemmer

from memory.sessions.index import Lexical
from overlay import remembering
from overlay.remembering.answer import from_memory
from overlay.remembering.step import memory_candidates, memory_reader, reranked
from overlay.services import Services

HELD_OUT = "50"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


@dataclass
class Conversation:
    name: str
    turns: list[dict[str, Any]]  # {role, content, speaker, ts} as imported
    dia: list[str]  # dia_id of each turn, in order
    qas: list[dict[str, Any]]  # every question, adversarial ones included


def sitting_ts(stamp: str) -> float:
    """``"3:47 pm on 17 March, 2022"`` as epoch seconds (UTC)."""
    return datetime.strptime(stamp, "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC).timestamp()


def load(folder: Path) -> list[Conversation]:
    out = []
    for path in sorted(folder.glob("*.json")):
        conv = json.loads(path.read_text())
        turns, dia = [], []
        for n in range(1, 100):
            raw = conv.get(f"session_{n}") or []
            start = sitting_ts(conv[f"session_{n}_date_time"]) if raw else 0.0
            for i, t in enumerate(raw):
                turns.append({"role": "user", "content": t["text"], "speaker": t["speaker"],
                              "ts": start + 30 * i})  # fmt: skip
                dia.append(t["dia_id"])
        out.append(Conversation(path.stem, turns, dia, conv["qa"]))
    return out


def import_all(svc: Services, convs: list[Conversation]) -> None:
    for c in convs:
        sid = "loco" + c.name
        for b in range(0, len(c.turns), 64):
            remembering.append_turns(svc, sid, c.turns[b : b + 64])


def spoken(t: dict[str, Any]) -> str:
    return f"{t['speaker']}: {t['content']}"


def recall(svc: Services, convs: list[Conversation], ks: tuple[int, ...] = (5, 10)) -> dict:
    """Evidence-turn recall@k per conversation for ours, plain dense and plain sparse (BM25),
    and lookup times (query embedding cached, and end to end)."""
    emb = svc.embedder
    rows: dict[str, Any] = {}
    times: dict[str, list[float]] = {"ours": [], "dense": [], "e2e": []}
    for c in convs:
        sid = "loco" + c.name
        qas = [q for q in c.qas if q.get("category") != 5 and q.get("evidence")]
        mat = emb.embed([spoken(t) for t in c.turns])  # (N, dim)
        lex = Lexical([spoken(t) for t in c.turns])
        got = {m: dict.fromkeys(ks, 0.0) for m in ("ours", "dense", "sparse")}
        for qa in qas:
            q = qa["question"]
            t0 = time.perf_counter()
            qv = emb.embed([q])[0]
            dense = list(np.argsort(-(mat @ qv))[: max(ks)])
            t1 = time.perf_counter()
            hits = remembering.memory_search(svc, sid, q, max(ks))
            times["dense"].append(t1 - t0)
            times["ours"].append(time.perf_counter() - t1)
            sparse = list(np.argsort(-lex.scores(q), kind="stable")[: max(ks)])
            ours = [int(h.metadata["turn"]) for h in hits if str(h.metadata.get("turn", ""))]
            for m, found in (("ours", ours), ("dense", dense), ("sparse", sparse)):
                ids = [c.dia[n] for n in found]
                for k in ks:
                    got[m][k] += any(e in ids[:k] for e in qa["evidence"]) / len(qas)
        rows[c.name] = got | {"n": len(qas)}
    return {"rows": rows, "times": times}


def e2e_latency(svc: Services, convs: list[Conversation], inner: Any, n: int = 60) -> list[float]:
    """Lookup times with the query embedded by ``inner`` (the real embedder, no cache)."""
    real = Services(svc.settings, svc.redis, svc.chroma, embedder=inner, tenant=svc.tenant)
    out = []
    for i in range(n):
        c = convs[i % len(convs)]
        q = c.qas[i % len(c.qas)]["question"] + f" ({i})"
        t = time.perf_counter()
        remembering.memory_search(real, "loco" + c.name, q, 10)
        out.append(time.perf_counter() - t)
    return out


def _tokens(text: str) -> list[str]:
    text = re.sub(r"[^\w\s]", " ", str(text).lower())
    return [w for w in text.split() if w not in ("a", "an", "the", "and")]


def _f1(p: list[str], g: list[str]) -> float:
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def token_f1(pred: str, gold: str) -> float:
    """SQuAD-style token F1 (lower-cased, punctuation and articles dropped)."""
    return _f1(_tokens(pred), _tokens(gold))


_STEM = PorterStemmer()


def _stemmed(text: str) -> list[str]:
    """LoCoMo's normalisation (task_eval/evaluation.py): commas, punctuation, articles and
    "and" dropped, lower case, each word Porter-stemmed."""
    text = "".join(ch for ch in str(text).replace(",", "").lower() if ch not in string.punctuation)
    return [_STEM.stem(w) for w in text.split() if w not in ("a", "an", "the", "and")]


def locomo_f1(pred: str, gold: str, category: int) -> float:
    """LoCoMo's own answer F1, the metric its paper's figures use: stemmed token F1; for
    multi-hop (1) each comma-separated gold part scores its best predicted part, averaged; for
    category 3 only the gold before the first ";" counts."""
    if category == 3:
        gold = gold.split(";")[0].strip()
    if category != 1:
        return _f1(_stemmed(pred), _stemmed(gold))
    preds = [_stemmed(p) for p in pred.split(",")]
    golds = [_stemmed(g) for g in gold.split(",")]
    return float(np.mean([max(_f1(p, g) for p in preds) for g in golds]))


METRICS = {"token F1": lambda pred, gold, cat: token_f1(pred, gold), "LoCoMo F1": locomo_f1}


def answers(
    svc: Services, convs: list[Conversation], progress: Any = None
) -> dict[str, dict[str, dict[int, list[float]]]]:
    """Per method · metric, conversation and category: the answer F1 of the chat turn's memory
    answer (cat 1-4) and 1.0 per abstention (cat 5). ``read``: today's answer, the library call
    behind ``POST /v1/chat``'s memory step (``memory_candidates`` → ``from_memory`` with the
    reader adapter and the settings' floor); ``whole turn``: the answer before it (the best
    turn's own words at lookup score ≥ 1.0, no reader). A question memory does not answer counts
    as abstained (F1 0), as the document path has no documents here. Metrics: ``token F1``
    (SQuAD's, as before) and ``LoCoMo F1`` (``locomo_f1``)."""
    m = svc.settings.memory
    methods = {
        "whole turn": lambda q, hits, sid: from_memory(q, hits, None, floor=1.0),
        "read": lambda q, hits, sid: from_memory(
            q, hits, memory_reader(svc), floor=m.answer_floor, read_turns=m.read_turns,
            order=reranked(svc, sid, q),
        ),
    }  # fmt: skip
    keys = [f"{name} · {metric}" for name in methods for metric in METRICS]
    out: dict[str, dict[str, dict[int, list[float]]]] = {key: {} for key in keys}
    for c in convs:
        for key in keys:
            out[key][c.name] = {k: [] for k in CATEGORIES}
        for qa in c.qas:
            hits = memory_candidates(svc, qa["question"], "loco" + c.name)
            cat, gold = int(qa["category"]), str(qa.get("answer", ""))
            for name, answer in methods.items():
                got = answer(qa["question"], hits, "loco" + c.name)
                text = got.draft.text if got else ""
                for metric, score in METRICS.items():
                    value = float(not text) if cat == 5 else score(text, gold, cat)
                    out[f"{name} · {metric}"][c.name][cat].append(value)
            if progress is not None:
                progress()
    return out
