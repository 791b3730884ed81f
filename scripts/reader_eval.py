"""Evaluate the reader adapter: base model zero-shot vs with the adapter, same prompt.

For each eval line (from ``scripts/reader_data.py``) the model gets ``reader_messages(passage,
question)`` (the gold passage window; ``--passage paragraph`` gives the whole paragraph) and
answers greedily (``--max-new-tokens`` 24). Reported per set: token-F1 and exact match (SQuAD
normalisation, max over the gold answers), median answer words, and the share of answers that
are a (normalised) substring of the passage.

    OVERLAY_DATA_DIR=/tmp/reader-data .venv/bin/python scripts/reader_eval.py \\
        --adapter /tmp/reader-data/adapters/reader --sets dev heldout \\
        --out /tmp/reader-eval/report.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reader_prompt import reader_messages  # noqa: E402


def normalize(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    if not p or not g:
        return float(p == g)
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def score(pred: str, golds: list[str], passage: str) -> dict[str, float]:
    norm = normalize(pred)
    return {
        "f1": max(f1(pred, g) for g in golds),
        "em": float(any(norm == normalize(g) for g in golds)),
        "words": len(pred.split()),
        "substring": float(bool(norm) and norm in normalize(passage)),
    }


def model_dir() -> Path:
    data = Path(os.environ.get("OVERLAY_DATA_DIR", ".overlay-data"))
    return Path(os.environ.get("OVERLAY_MODELS_DIR", data / "models")) / "smollm2-135m-instruct"


def load(adapter: Path | None):  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = model_dir()
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).eval()
    return tok, model


def answer_all(tok, model, rows, field, max_new, batch, use_adapter):  # type: ignore[no-untyped-def]
    import contextlib

    import torch

    preds: list[str] = []
    ctx = contextlib.nullcontext() if use_adapter else (
        model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()
    )  # fmt: skip
    with ctx, torch.inference_mode():
        for i in range(0, len(rows), batch):
            chunk = rows[i : i + batch]
            texts = [
                tok.apply_chat_template(
                    reader_messages(r[field], r["question"]),
                    tokenize=False,
                    add_generation_prompt=True,
                )  # fmt: skip
                for r in chunk
            ]
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            out = model.generate(
                **enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id,
            )  # fmt: skip
            for row in out[:, enc["input_ids"].shape[1] :]:
                text = tok.decode(row, skip_special_tokens=True).strip()
                preds.append(text.split("\n")[0].strip())
    return preds


def summarise(scores: list[dict[str, float]]) -> dict[str, float]:
    n = len(scores)
    return {
        "n": n,
        "f1": round(sum(s["f1"] for s in scores) / n, 3),
        "em": round(sum(s["em"] for s in scores) / n, 3),
        "median_words": statistics.median(s["words"] for s in scores),
        "substring": round(sum(s["substring"] for s in scores) / n, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", type=Path, default=None, help="PEFT folder of the reader")
    ap.add_argument("--eval-dir", type=Path, default=Path("/tmp/reader-eval"))
    ap.add_argument("--sets", nargs="+", default=["dev", "heldout"])
    ap.add_argument("--limit", type=int, default=0, help="First N lines of each set (0: all)")
    ap.add_argument("--passage", choices=["passage", "paragraph"], default="passage")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--skip-base", action="store_true", help="Only the adapter")
    ap.add_argument("--out", type=Path, default=None, help="Write the report (with answers) here")
    args = ap.parse_args()

    import torch

    threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or min(2, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    tok, model = load(args.adapter)
    variants = ([] if args.skip_base else ["base"]) + (["reader"] if args.adapter else [])
    report: dict[str, object] = {"passage": args.passage, "results": {}, "answers": {}}
    for name in args.sets:
        rows = [json.loads(x) for x in (args.eval_dir / f"{name}.jsonl").read_text().splitlines()]
        rows = rows[: args.limit] if args.limit else rows
        for variant in variants:
            t0 = time.perf_counter()
            preds = answer_all(tok, model, rows, args.passage, args.max_new_tokens, args.batch,
                               variant == "reader")  # fmt: skip
            pairs = zip(preds, rows, strict=True)
            scores = [score(p, r["answers"], r[args.passage]) for p, r in pairs]
            summary = summarise(scores) | {"seconds": round(time.perf_counter() - t0, 1)}
            report["results"][f"{name}/{variant}"] = summary  # type: ignore[index]
            report["answers"][f"{name}/{variant}"] = [  # type: ignore[index]
                {"id": r["id"], "q": r["question"], "gold": r["answers"], "pred": p}
                for p, r in zip(preds, rows, strict=True)
            ]
            print(f"{name:8s} {variant:7s} " + json.dumps(summary), flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
