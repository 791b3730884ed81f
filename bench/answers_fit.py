"""Fit the span reader's knobs (``answer.span_weight``, ``span_threshold``, ``span_widen``) on
DEVELOPMENT questions only (``answers_bench.py --fit``).

Every question is scored once (the candidates, their query likelihood and the span reader's
reads at each widening share); the grid then replays choosing offline. Constraints, per domain:
answerable questions abstained ≤ 10 %, off-corpus abstained ≥ 90 %; among the configurations
that meet them, the best mean answer F1 (+ 0.2 × SQuAD's unanswerable abstention) wins.
"""

from __future__ import annotations

import itertools
import statistics
import sys

from bench.docqa_score import best_f1
from overlay.choosing import candidates
from overlay.choosing.chooser import candidate_views, fusion_weights, query_scores
from overlay.choosing.fusion import choose, dedupe
from overlay.choosing.span_head import LAYERS
from overlay.choosing.span_read import load_reader, read_spans
from overlay.services import Services

WEIGHTS = (0.0, 0.3, 0.5, 0.7, 0.85, 1.0)
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 19))
WIDEN = (0.5, 0.6, 0.7, 0.8, 1.01)


def observe(svc: Services, row: dict) -> dict:
    """One question's candidates, query likelihood and reads (per widening share)."""
    m = svc.settings.choose.top_m
    hits = dedupe(candidates.retrieve(svc, row["q"], row["coll"], k=m, method="hybrid"))[:m]
    scored = query_scores(svc, row["q"], hits, layers=LAYERS)
    views = candidate_views(svc, row["q"], hits)
    reader = load_reader()
    reads = {w: read_spans(reader, scored.features, views, w) for w in WIDEN}
    return {"row": row, "hits": hits, "ql": scored.calibrated, "reads": reads}


def replay(svc: Services, obs: dict, w: float, thr: float, widen: float) -> tuple[str, bool]:
    reads = obs["reads"][widen]
    ev = [r.evidence if r else 0.0 for r in reads]
    scores = [(1 - w) * q + w * e for q, e in zip(obs["ql"], ev, strict=True)]
    choice = choose(obs["hits"], scores, weights=fusion_weights(svc), threshold=thr, top_n=3)
    if choice.abstained:
        return "", True
    by_id = {h.id: r for h, r in zip(obs["hits"], reads, strict=True)}
    for c in choice.chosen:
        if by_id.get(c.hit.id) is not None:
            return by_id[c.hit.id].text, False
    return "", False


def evaluate(svc: Services, observed: dict[str, list[dict]], cfg: tuple) -> dict[str, float]:
    out: dict[str, float] = {}
    for domain, items in observed.items():
        f1s, abst = [], {"answerable": [], "unanswerable": [], "off": []}
        for obs in items:
            text, abstained = replay(svc, obs, *cfg)
            kind = obs["row"]["kind"]
            abst[kind].append(float(abstained))
            if kind == "answerable":
                f1s.append(0.0 if abstained else best_f1(text, obs["row"]["golds"]))
        if f1s:
            out[f"{domain} F1"] = statistics.mean(f1s)
        for kind, v in abst.items():
            if v:
                out[f"{domain} abst {kind}"] = statistics.mean(v)
    return out


def fit(svc: Services, sets: dict[str, list[dict]]) -> None:
    observed: dict[str, list[dict]] = {}
    n, total = 0, sum(len(v) for v in sets.values())
    for domain, rows in sets.items():
        observed[domain] = []
        for row in rows:
            observed[domain].append(observe(svc, row))
            n += 1
            print(f"\r{n}/{total} observed", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    ranked = []
    for cfg in itertools.product(WEIGHTS, THRESHOLDS, WIDEN):
        res = evaluate(svc, observed, cfg)
        ok = all(v <= 0.10 for k, v in res.items() if k.endswith("abst answerable"))
        ok = ok and res.get("off-corpus abst off", 1.0) >= 0.90
        f1 = statistics.mean(v for k, v in res.items() if k.endswith(" F1"))
        objective = f1 + 0.2 * res.get("squad abst unanswerable", 0.0)
        ranked.append((ok, objective, cfg, res))
    ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
    print(
        "| feasible | objective | weight | threshold | widen | figures |\n|---|---|---|---|---|---|"
    )
    for ok, obj, cfg, res in ranked[:12]:
        figs = ", ".join(f"{k} {v:.2f}" for k, v in res.items())
        print(f"| {ok} | {obj:.3f} | {cfg[0]} | {cfg[1]} | {cfg[2]} | {figs} |")
