"""Train the span reader's head on the features of ``scripts/span_features.py``.

    python scripts/train_span_head.py [--features .cache/reader/features.pt]
        [--out overlay/builtin_readers/span] [--epochs 8]

Trains on the TRAIN split (SQuAD train articles, TAT-QA train reports; TAT-QA repeated
``--tatqa-repeat`` times, its long spans being the scarcer kind), keeps the epoch with the best
DEV answer F1 (SQuAD dev articles, TAT-QA dev reports: see ``span_data``), then fits the
evidence calibration on DEV: the logistic that maps a candidate's span margin (best span minus
NULL) to [0, 1]. A rich progress bar shows at a terminal.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from rich.progress import Progress

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

from overlay.answering.spans import normalize  # noqa: E402
from overlay.choosing.span_head import (  # noqa: E402
    HeadConfig,
    SpanHead,
    best_spans,
    save_head,
)


def f1(pred: str, golds: list[str]) -> float:
    best = 0.0
    p = normalize(pred).split()
    for g in golds:
        t = normalize(g).split()
        common = sum(min(p.count(w), t.count(w)) for w in set(p))
        if common:
            pr, rc = common / len(p), common / len(t)
            best = max(best, 2 * pr * rc / (pr + rc))
    return best


def collate(batch: list[dict], windows: list[dict]):
    ps = [windows[e["window"]]["feats"] for e in batch]
    qs = [e["q"] for e in batch]
    n_p, n_q = max(len(p) for p in ps), max(len(q) for q in qs)
    L, H = ps[0].shape[1], ps[0].shape[2]
    p = torch.zeros(len(batch), n_p, L, H)
    q = torch.zeros(len(batch), n_q, L, H)
    pm = torch.zeros(len(batch), n_p, dtype=torch.bool)
    qm = torch.zeros(len(batch), n_q, dtype=torch.bool)
    ys = torch.zeros(len(batch), dtype=torch.long)
    ye = torch.zeros(len(batch), dtype=torch.long)
    for i, (pf, qf, e) in enumerate(zip(ps, qs, batch, strict=True)):
        p[i, : len(pf)], pm[i, : len(pf)] = pf, True
        q[i, : len(qf)], qm[i, : len(qf)] = qf, True
        if e["span"] is not None:
            ys[i], ye[i] = e["span"][0] + 1, e["span"][1] + 1
    return p, pm, q, qm, ys, ye


@torch.no_grad()
def guesses(head: SpanHead, examples: list[dict], windows: list[dict], bs: int = 64):
    head.eval()
    out = []
    for i in range(0, len(examples), bs):
        p, pm, q, qm, _, _ = collate(examples[i : i + bs], windows)
        s, e = head(p, pm, q, qm)
        out += best_spans(s, e, head.config.max_answer_tokens)
    return out


def evaluate(head: SpanHead, examples: list[dict], windows: list[dict]) -> dict[str, float]:
    """Per question: the window with the largest margin answers. F1 on answerable questions
    (no abstention), and the margins of the best window (for the calibration)."""
    gs = guesses(head, examples, windows)
    per_q: dict[str, list] = defaultdict(list)
    for ex, g in zip(examples, gs, strict=True):
        per_q[ex["qid"]].append((g, ex))
    scores: dict[str, list[float]] = defaultdict(list)
    margins = []
    for items in per_q.values():
        g, ex = max(items, key=lambda t: t[0].margin)
        answerable = bool(ex["answers"])
        margins.append((g.margin, answerable, ex["domain"]))
        if answerable and g.start >= 0:
            w = windows[ex["window"]]
            text = w["text"][w["chars"][g.start][0] : w["chars"][g.end][1]]
            scores[ex["domain"]].append(f1(text, ex["answers"]))
        elif answerable:
            scores[ex["domain"]].append(0.0)
    res = {f"f1_{d}": sum(v) / len(v) for d, v in scores.items()}
    res["f1_mean"] = sum(res.values()) / max(1, len(res))
    res["_margins"] = margins  # type: ignore[assignment]
    return res


def fit_calibration(margins: list[tuple[float, bool, str]]) -> tuple[float, float]:
    """Logistic ``σ(scale · (margin − center))`` for "answerable" by least log-loss (grid)."""
    best = (math.inf, 1.0, 0.0)
    for scale in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0):
        for c10 in range(-100, 101, 5):
            c = c10 / 10
            loss = 0.0
            for m, y, _ in margins:
                z = 1 / (1 + math.exp(-max(-30, min(30, scale * (m - c)))))
                z = min(max(z, 1e-6), 1 - 1e-6)
                loss -= math.log(z if y else 1 - z)
            best = min(best, (loss, scale, c))
    return best[1], best[2]


def load_features(paths: list[str]) -> dict:
    """Several feature files as one (window indices shifted)."""
    out: dict = {"windows": [], "examples": [], "base": None}
    for path in paths:
        part = torch.load(path, weights_only=False)
        shift = len(out["windows"])
        out["windows"] += part["windows"]
        out["examples"] += [{**e, "window": e["window"] + shift} for e in part["examples"]]
        out["base"] = out["base"] or part.get("base")
    return out


def _base(args: argparse.Namespace) -> dict[str, int]:
    """The base model's shape, from its converted config (features saved without it)."""
    import json

    cfg = json.loads((Path(args.model_dir) / "config.json").read_text())
    return {k: cfg[k] for k in ("hidden_size", "num_hidden_layers", "vocab_size")}


def main() -> None:
    ap = argparse.ArgumentParser()
    cache = REPO / ".cache/reader"
    ap.add_argument(
        "--features",
        nargs="+",
        default=[str(cache / "feat_tatqa.pt"), str(cache / "feat_squad.pt")],
    )
    ap.add_argument("--out", default=str(REPO / "overlay/builtin_readers/span"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--tatqa-repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--model-dir", default=str(REPO / ".cache/ov-data/models/smollm2-135m-instruct")
    )
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # a shared machine: 2 OpenMP threads under load crawl
    rng = random.Random(args.seed)
    data = load_features(args.features)
    windows, examples = data["windows"], data["examples"]
    train = [e for e in examples if e["split"] == "train"]
    train += [e for e in train if e["domain"] == "tatqa"] * (args.tatqa_repeat - 1)
    dev = [e for e in examples if e["split"] == "dev"]
    print(f"train {len(train)} examples, dev {len(dev)}")
    head = SpanHead(HeadConfig())
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(train) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps, pct_start=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    best, best_state = -1.0, None
    t0 = time.time()
    with Progress(disable=not sys.stdout.isatty()) as bar:
        task = bar.add_task("training", total=steps)
        for epoch in range(args.epochs):
            head.train()
            rng.shuffle(train)
            for i in range(0, len(train), args.batch):
                p, pm, q, qm, ys, ye = collate(train[i : i + args.batch], windows)
                s, e = head(p, pm, q, qm)
                loss = (loss_fn(s, ys) + loss_fn(e, ye)) / 2
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
                opt.step()
                sched.step()
                bar.advance(task)
            res = evaluate(head, dev, windows)
            shown = {k: round(v, 3) for k, v in res.items() if not k.startswith("_")}
            print(f"epoch {epoch + 1}: loss {loss.item():.3f} dev {shown} {time.time() - t0:.0f} s",
                  flush=True)  # fmt: skip
            if res["f1_mean"] > best:
                best = res["f1_mean"]
                best_state = {k: v.clone() for k, v in head.state_dict().items()}
                best_margins = res["_margins"]
    head.load_state_dict(best_state)
    scale, center = fit_calibration(best_margins)
    print(f"best dev F1 {best:.3f}; calibration scale {scale} center {center}")
    meta = {
        "calibration": {"scale": scale, "center": center},
        "dev_f1": round(best, 4),
        "train_examples": len(train),
        "epochs": args.epochs,
        "lr": args.lr,
        "seconds": round(time.time() - t0),
        "base": data.get("base") or _base(args),
    }
    save_head(head, Path(args.out), meta)


if __name__ == "__main__":
    main()
