"""Fit the answer gate (``overlay/choosing/abstain.py``) on development observations, and report
it beside today's floor on development and held-out ones.

    python bench/gate_data.py --part dev  --out bench/results/gate-dev.pkl
    python bench/gate_data.py --part test --out bench/results/gate-test.pkl
    python bench/gate_data.py --part single --out bench/results/gate-single.pkl
    python scripts/gate_fit.py --dev bench/results/gate-dev.pkl [--test bench/results/gate-test.pkl]
        [--single bench/results/gate-single.pkl] [--keep overlay/builtin_readers/span/gate.json]
        [--write overlay/builtin_readers/span/gate.json]

Each observation is replayed with the shipped choosing settings (the span reader's score, fused
with the retrieval rank), so the best candidate is the one the chat turn would cite first. The
label: the question is answerable and that candidate holds a gold answer. A logistic regression
(L2, Newton's method, standardised features) is fitted on DEV only; the threshold is the lowest
on a grid that abstains on at least ``--off`` of DEV's questions the documents do not answer
(off-topic and another domain's). ``--test`` is read only to report.

``--single``: observations of one-document collections (``gate_data.py --part single``). Their
threshold is the lowest on a finer grid (0.01) abstaining on at least ``--off`` of their
off-corpus questions; it holds for collections of one document up to the largest of them
(``Gate.threshold_for``). ``--keep``: the weights and large threshold of that gate file, not
refitted (only the one-document threshold is added).
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from memory.types import CollectionSize  # noqa: E402
from overlay.choosing.abstain import NAMES, Gate, features, load_gate  # noqa: E402
from overlay.choosing.chooser import span_scores  # noqa: E402
from overlay.choosing.fusion import FusionWeights, choose  # noqa: E402
from overlay.settings import Settings  # noqa: E402

THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]
FINE = [round(0.01 * i, 2) for i in range(1, 100)]


def replay(obs: dict, s: Settings) -> dict:
    """The chat turn's first citation, today's abstention, the gate's features and label."""
    hits = obs["hits"]
    row = obs["row"]
    margins = [lp - obs["baseline"] for lp in obs["logprobs"]]
    scores = span_scores(s.answer, obs["ql"], obs["reads"], hits)
    weights = FusionWeights.of(s.choose)
    today = choose(hits, scores, weights=weights, threshold=s.answer.span_threshold, top_n=3)
    best = today.ranked[0].rank  # the order does not depend on the floor
    x = features(row["q"], hits, margins, obs["reads"], obs["baseline"], best)
    first = today.chosen[0].rank if today.chosen else None
    return {
        "domain": row["domain"], "kind": row["kind"], "x": x,
        "y": float(row["kind"] == "answerable" and bool(obs["gold"][best])),
        "today_abstained": first is None,
        "today_right": first is not None and bool(obs["gold"][first]),
        "size": CollectionSize(obs["sources"], obs["chunks"]) if "sources" in obs else None,
    }  # fmt: skip


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (Newton's method)."""
    n, d = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.eye(d + 1) * l2
    reg[d, d] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-a @ w))
        grad = a.T @ (p - y) + reg @ w
        hess = (a * (p * (1 - p))[:, None]).T @ a + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:d], float(w[d])


def summary(
    items: list[dict], abstained: list[bool], key: str = "y"
) -> dict[str, dict[str, float]]:
    """Per domain: answerable abstained, first citation right (of answerable), precision of
    answers given, unanswerable / off abstained."""
    by: dict[str, list[tuple[dict, bool]]] = defaultdict(list)
    for it, ab in zip(items, abstained, strict=True):
        by[it["domain"]].append((it, ab))
    out = {}
    for dom, rows in by.items():
        ans = [(it, ab) for it, ab in rows if it["kind"] == "answerable"]
        fig: dict[str, float] = {"n": len(rows)}
        if ans:
            fig["ans abst"] = statistics.mean(ab for _, ab in ans)
            fig["chunk@1"] = statistics.mean((not ab) and it[key] for it, ab in ans)
            given = [it[key] for it, ab in ans if not ab]
            fig["precision"] = statistics.mean(given) if given else 0.0
        for kind in ("unanswerable", "off"):
            v = [ab for it, ab in rows if it["kind"] == kind]
            if v:
                fig[f"{kind} abst"] = statistics.mean(v)
        out[dom] = fig
    return out


def show(title: str, figs: dict[str, dict[str, float]]) -> None:
    print(f"\n### {title}")
    for dom, fig in figs.items():
        print(f"- {dom}: " + ", ".join(f"{k} {v:.3f}" if k != "n" else f"n {int(v)}"
                                       for k, v in fig.items()))  # fmt: skip


def fitted(dev: list[dict], l2: float, off: float) -> tuple[Gate, float]:
    """A gate fitted on ``dev`` (weights printed) and its threshold."""
    x = np.array([it["x"] for it in dev])
    y = np.array([it["y"] for it in dev])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    w, b = fit_logistic((x - mean) / scale, y, l2)
    gate = Gate(tuple(mean.tolist()), tuple(scale.tolist()), tuple(w.tolist()), b)
    print("| feature | weight |\n|---|---|")
    for name, wi in zip(NAMES, w, strict=True):
        print(f"| {name} | {wi:+.3f} |")
    for it in dev:
        it["p"] = gate.probability(it["x"])
    thr = lowest(dev, off, THRESHOLDS)
    print(f"\nthreshold {thr} (the lowest abstaining on >= {off} of DEV off-corpus)")
    return replace(gate, threshold=thr), thr


def load(path: Path, s: Settings) -> list[dict]:
    return [replay(o, s) for o in pickle.loads(path.read_bytes()) if o["hits"]]


def lowest(items: list[dict], share: float, grid: list[float]) -> float:
    """The lowest threshold of ``grid`` under which at least ``share`` of ``items``' off-corpus
    questions fall (``it["p"]``: the gate's probability)."""
    offs = [it for it in items if it["kind"] == "off"]
    return next((t for t in grid if statistics.mean(it["p"] < t for it in offs) >= share), grid[-1])


def with_single(gate: Gate, single: list[dict], share: float) -> Gate:
    """``gate`` with the threshold of one-document collections fitted on ``single``."""
    for it in single:
        it["p"] = gate.probability(it["x"])
    small = lowest(single, share, FINE)
    top = max(it["size"].chunks for it in single)
    print(f"\none-document threshold {small} (collections of one document of up to {top} chunks)")
    show(f"ONE-DOCUMENT, gate {small}", summary(single, [it["p"] < small for it in single]))
    show(f"ONE-DOCUMENT, gate {gate.threshold}",
         summary(single, [it["p"] < gate.threshold for it in single]))  # fmt: skip
    return replace(gate, small_threshold=small, small_chunks=top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dev", type=Path, required=True)
    ap.add_argument("--test", type=Path)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--off", type=float, default=0.95, help="DEV off-corpus abstained at least")
    ap.add_argument("--single", type=Path, help="one-document collections' observations")
    ap.add_argument("--keep", type=Path, help="keep this gate's weights and large threshold")
    ap.add_argument("--write", type=Path, help="write the fitted gate (JSON) here")
    args = ap.parse_args()
    s = Settings()
    dev = load(args.dev, s)
    kept = load_gate(args.keep) if args.keep else None
    if kept is not None:
        gate, thr = kept, kept.threshold
        for it in dev:
            it["p"] = gate.probability(it["x"])
        print(f"kept {args.keep.name}: threshold {thr}")
    else:
        gate, thr = fitted(dev, args.l2, args.off)
    if args.single:
        gate = with_single(gate, load(args.single, s), args.off)
    today = [it["today_abstained"] for it in dev]
    show("DEV, today's floor", summary(dev, today, "today_right"))
    show(f"DEV, gate {thr}", summary(dev, [it["p"] < thr for it in dev]))
    if args.test:
        test = load(args.test, s)
        for it in test:
            it["p"] = gate.probability(it["x"])
        today = [it["today_abstained"] for it in test]
        show("HELD-OUT, today's floor", summary(test, today, "today_right"))
        if all(it["size"] for it in test):
            show("HELD-OUT, gate by collection size", summary(
                test, [it["p"] < gate.threshold_for(it["size"]) for it in test]))  # fmt: skip
        for t in sorted({thr, *THRESHOLDS[::2]}):
            show(f"HELD-OUT, gate {t}" + (" (chosen)" if t == thr else ""),
                 summary(test, [it["p"] < t for it in test]))  # fmt: skip
    if args.write:
        doc = {**gate.to_json(), "fitted_on": str(args.dev.name), "l2": args.l2}
        if args.keep:  # the weights are the kept file's: so is where they were fitted
            kept_doc = json.loads(args.keep.read_text())
            doc.update(fitted_on=kept_doc.get("fitted_on"), l2=kept_doc.get("l2"))
        if args.single:
            doc["single_fitted_on"] = args.single.name
        args.write.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
