"""Fit the span read mode's knobs on DEVELOPMENT questions only (``answers_bench.py --fit``).

1. Every question is scored once (its candidates, their query likelihood, the span head's
   evidence per candidate, and which candidates hold a gold answer); choosing is then replayed
   offline for ``answer.span_weight`` × ``answer.dense_weight`` × ``answer.span_threshold``.
   Off-corpus questions abstained ≥ 90 % is a constraint; among the configurations that meet it
   and abstain on at most 0.05 more answerable questions of the worst domain than the fewest
   (the target, ≤ 10 % on each, is not met on PolicyQA by any), the most answerable questions
   whose first citation holds the answer (+ 0.2 × SQuAD's unanswerable abstention) wins.
   Domains: SQuAD dev articles, TAT-QA dev reports, PolicyQA ``dev.json`` policies (one
   collection each; measured, not trained on: a three-number fit), off-corpus questions (the
   first half of ``OFF_TOPIC``).
2. With the winner, the reader adapter reads each answerable question's chosen passages once and
   the widening rules (``answer.span_widen``, the clause-question rule) are compared by F1; the
   head's own span is scored beside them.
"""

from __future__ import annotations

import itertools
import statistics

from bench.docqa_score import best_f1, holds
from bench.progress import Ticker
from overlay.answering.read_mode import read_chosen as _read
from overlay.answering.reading import read_answer
from overlay.answering.widening import widen
from overlay.choosing import candidates
from overlay.choosing.chooser import candidate_views, fusion_weights, query_scores, span_scores
from overlay.choosing.fusion import Choice, choose, dedupe
from overlay.choosing.span_head import LAYERS
from overlay.choosing.span_read import load_reader, read_spans
from overlay.knobs import AnswerSettings
from overlay.services import Services

WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
THRESHOLDS = tuple(round(0.02 * i, 2) for i in range(5, 41))
SHARES = (0.5, 0.6, 0.7, 0.8, 1.01)


def observe(svc: Services, row: dict) -> dict:
    """One question's candidates, query likelihood (calibrated, and the raw log-probs with
    their passage-free baseline), span evidence, and gold holders."""
    m = svc.settings.choose.top_m
    hits = dedupe(candidates.retrieve(svc, row["q"], row["coll"], k=m, method="hybrid"))[:m]
    views = candidate_views(svc, row["q"], hits)
    scored = query_scores(svc, row["q"], hits, layers=LAYERS, views=views)
    reads = read_spans(load_reader(), scored.features, views)
    gold = [bool(row["golds"]) and holds(h.text, row["golds"]) for h in hits]
    return {"row": row, "hits": hits, "ql": scored.calibrated, "logprobs": scored.logprobs,
            "baseline": scored.baseline, "reads": reads, "gold": gold}  # fmt: skip


def knobs_of(svc: Services, w: float, wd: float) -> AnswerSettings:
    """The answer settings with span weight ``w`` and dense weight ``wd``."""
    return svc.settings.answer.model_copy(update={"span_weight": w, "dense_weight": wd})


def replay(svc: Services, obs: dict, knobs: AnswerSettings, thr: float) -> Choice:
    scores = span_scores(knobs, obs["ql"], obs["reads"], obs["hits"])
    choice = choose(obs["hits"], scores, weights=fusion_weights(svc), threshold=thr, top_n=3)
    choice.reads = {h.id: r for h, r in zip(obs["hits"], obs["reads"], strict=True) if r}
    return choice


def evaluate(
    svc: Services, observed: dict[str, list[dict]], knobs: AnswerSettings, thr: float
) -> dict:
    out: dict[str, float] = {}
    for domain, items in observed.items():
        first, abst = [], {"answerable": [], "unanswerable": [], "off": []}
        for obs in items:
            choice = replay(svc, obs, knobs, thr)
            kind = obs["row"]["kind"]
            abst[kind].append(float(choice.abstained))
            if kind == "answerable":
                ok = not choice.abstained and holds(choice.chosen[0].hit.text, obs["row"]["golds"])
                first.append(float(ok))
        if first:
            out[f"{domain} chunk@1"] = statistics.mean(first)
        for kind, v in abst.items():
            if v:
                out[f"{domain} abst {kind}"] = statistics.mean(v)
    return out


def fit(svc: Services, sets: dict[str, list[dict]]) -> None:
    observed: dict[str, list[dict]] = {}
    ticker = Ticker(sum(len(v) for v in sets.values()), "observed")
    for domain, rows in sets.items():
        observed[domain] = []
        for row in rows:
            observed[domain].append(observe(svc, row))
            ticker.tick()
    ticker.close()
    ranked = []
    for w, wd, thr in itertools.product(WEIGHTS, WEIGHTS, THRESHOLDS):
        if w + wd > 1.0 + 1e-9:
            continue
        res = evaluate(svc, observed, knobs_of(svc, w, wd), thr)
        worst = max(v for k, v in res.items() if k.endswith("abst answerable"))
        ok = res.get("off-corpus abst off", 1.0) >= 0.90
        first = statistics.mean(v for k, v in res.items() if k.endswith("chunk@1"))
        objective = (-round(worst, 3), first + 0.2 * res.get("squad abst unanswerable", 0.0))
        ranked.append((ok, objective, (w, thr, wd), res))
    ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
    # within 0.05 of the fewest abstained (a few questions' noise), the best citations win
    near = [r for r in ranked if r[0] == ranked[0][0] and r[1][0] >= ranked[0][1][0] - 0.05]
    ranked = sorted(near, key=lambda r: r[1][1], reverse=True) + ranked[len(near) :]
    print("| off >= 0.9 | worst answerable abstained | objective | span weight | dense weight "
          "| threshold | figures |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for ok, obj, cfg, res in ranked[:10]:
        figs = ", ".join(f"{k} {v:.2f}" for k, v in res.items())
        print(f"| {ok} | {-obj[0]:.2f} | {obj[1]:.3f} | {cfg[0]} | {cfg[2]} | {cfg[1]} | {figs} |")
    for label, keep in (("query likelihood alone", lambda c: c[0] == 0 and c[2] == 0),
                        ("without dense similarity", lambda c: c[2] == 0)):  # fmt: skip
        best = next(r for r in ranked if keep(r[2]))
        print(f"\n{label}, best: weight {best[2][0]}, threshold {best[2][1]}: {best[3]}")
    fit_widening(svc, observed, *ranked[0][2])


def fit_widening(
    svc: Services, observed: dict[str, list[dict]], w: float, thr: float, wd: float = 0.0
) -> None:
    """F1 of the adapter's span, widened by each rule, and of the head's own span."""
    knobs = knobs_of(svc, w, wd)
    rules = [(f"share {s:g}", s, False) for s in SHARES] + [
        (f"share {s:g} + clause questions", s, True) for s in SHARES
    ]
    scores: dict[str, dict[str, list[float]]] = {}
    for domain, items in observed.items():
        for obs in items:
            row = obs["row"]
            if row["kind"] != "answerable":
                continue
            choice = replay(svc, obs, knobs, thr)
            by = scores.setdefault(domain, {})
            if choice.abstained:
                for name, *_ in [*rules, ("head span",)]:
                    by.setdefault(name, []).append(0.0)
                continue
            draft = _read(svc, row["q"], choice)
            for name, share, clause in rules:
                text = widen(row["q"], draft, share, clause).text
                by.setdefault(name, []).append(best_f1(text, row["golds"]))
            by.setdefault("head span", []).append(best_f1(read_answer(choice).text, row["golds"]))
    print(f"\n## answer F1 on dev answerable questions (weight {w}, dense {wd}, threshold {thr})")
    doms = list(scores)
    print(f"| rule | {' | '.join(doms)} | mean |\n|---|{'---|' * (len(doms) + 1)}")
    for name in scores[doms[0]]:
        vals = [statistics.mean(scores[d][name]) for d in doms]
        cells = " | ".join(f"{v:.3f}" for v in vals)
        print(f"| {name} | {cells} | {statistics.mean(vals):.3f} |")
