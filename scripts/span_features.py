"""Run the frozen base model over the span reader's examples once and keep its hidden states.

    python scripts/span_features.py --out .cache/reader/features.pt [--limit N]

For each window the model reads the chooser's prompt (``Passage: {window}\\nA question about
this passage:``, ``overlay/choosing/scoring.py``'s PROMPT) once; every question paired with
the window then continues that prefix from its KV cache (all of a window's questions in one
batch). Kept per window: the passage tokens' hidden states at ``span_head.LAYERS`` (fp16) and
their character offsets; per question: its tokens' hidden states and the gold token span.
This is exactly what the scoring pass computes at answer time, so training sees what the head
will see.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

from span_data import squad_contexts, tatqa_contexts  # noqa: E402

from overlay.choosing.scoring import MAX_QUERY_TOKENS, PROMPT  # noqa: E402
from overlay.choosing.span_head import LAYERS, passage_tokens, token_span  # noqa: E402
from overlay.model.base import load_base_model  # noqa: E402
from overlay.settings import Settings  # noqa: E402


def _pick(hidden: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.stack([hidden[i] for i in LAYERS], dim=-2)  # (B, T, L, H)


@torch.inference_mode()
def window_features(body, tok, window: str, questions: list[str]):
    enc = tok(PROMPT.format(text=window), add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    first, last, chars = passage_tokens(offsets, len("Passage: "), len(window))
    out = body(input_ids=torch.tensor([ids]), use_cache=True, output_hidden_states=True)
    p_feats = _pick(out.hidden_states)[0, first:last].half()  # (P, L, H)
    q_ids = [
        tok(" " + q, add_special_tokens=False)["input_ids"][:MAX_QUERY_TOKENS] for q in questions
    ]
    width = max(len(q) for q in q_ids)
    batch = torch.zeros((len(q_ids), width), dtype=torch.long)
    mask = torch.zeros((len(q_ids), len(ids) + width), dtype=torch.long)
    mask[:, : len(ids)] = 1
    for r, q in enumerate(q_ids):
        batch[r, : len(q)] = torch.tensor(q)
        mask[r, len(ids) : len(ids) + len(q)] = 1
    cache = copy.deepcopy(out.cache)
    cache.batch_repeat_interleave(len(q_ids))
    qo = body(input_ids=batch, attention_mask=mask, cache=cache, use_cache=True,
              output_hidden_states=True)  # fmt: skip
    qf = _pick(qo.hidden_states).half()  # (B, Q, L, H)
    return p_feats, chars, [qf[r, : len(q)].clone() for r, q in enumerate(q_ids)]


def save(out: str, windows: list, examples: list, cfg) -> None:
    base = {k: getattr(cfg, k) for k in ("hidden_size", "num_hidden_layers", "vocab_size")}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(out).with_suffix(".tmp")
    torch.save({"layers": LAYERS, "windows": windows, "examples": examples, "base": base}, tmp)
    tmp.replace(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / ".cache/reader/features.pt"))
    ap.add_argument("--data-dir", default=str(REPO / ".cache/ov-data"))
    ap.add_argument("--limit", type=int, default=0, help="contexts per domain (0: all)")
    ap.add_argument("--domain", choices=("tatqa", "squad", "both"), default="both")
    ap.add_argument("--skip", type=int, default=0, help="contexts per domain to skip first")
    args = ap.parse_args()
    torch.manual_seed(0)
    bm = load_base_model(Settings(data_dir=args.data_dir, decode_kernel="torch"))
    torch.set_num_threads(1)  # the machine is shared: 2 threads under load ran 10x slower
    body, tok = bm.model.get_decoder(), bm.tokenizer
    count = lambda t: len(tok(t, add_special_tokens=False)["input_ids"])  # noqa: E731
    windows, examples, n_ctx = [], [], 0
    t0 = time.time()
    sources = {"tatqa": [tatqa_contexts(count)], "squad": [squad_contexts(count)]}
    chosen = (
        [*sources["tatqa"], *sources["squad"]] if args.domain == "both" else sources[args.domain]
    )
    for source in chosen:
        for i, ctx in enumerate(source):
            if i < args.skip:
                continue
            if args.limit and i >= args.skip + args.limit:
                break
            n_ctx += 1
            for w, text in enumerate(ctx.windows):
                qs = [q for q in ctx.questions if w in q.windows]
                if not qs:
                    continue
                p_feats, chars, q_feats = window_features(body, tok, text, [q.text for q in qs])
                windows.append({"feats": p_feats, "chars": chars, "text": text})
                for q, qf in zip(qs, q_feats, strict=True):
                    span = token_span(chars, *q.spans[w]) if w in q.spans else None
                    examples.append({
                        "window": len(windows) - 1, "q": qf, "span": span, "qid": q.qid,
                        "question": q.text, "answers": q.answers, "domain": ctx.domain,
                        "split": ctx.split, "title": ctx.title,
                    })  # fmt: skip
            if n_ctx % 25 == 0:  # a checkpoint: the run can be stopped and trained on
                save(args.out, windows, examples, bm.model.config)
                print(f"{n_ctx} contexts, {len(windows)} windows, {len(examples)} examples, "
                      f"{time.time() - t0:.0f} s", flush=True)  # fmt: skip
    save(args.out, windows, examples, bm.model.config)
    print(f"done: {len(windows)} windows, {len(examples)} examples, {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
