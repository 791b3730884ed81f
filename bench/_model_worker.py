"""One path of ``bench/model_bench.py`` in its own process (so its peak RSS is its own):
``ours`` (Overlay's default path), ``hf`` (transformers fp32 as Overlay ran before) or
``bf16prefill`` (ours with the prefill forced to bf16, to check whether the text changes).
Prints one JSON line of figures."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from overlay.choosing.scoring import score_views  # noqa: E402
from overlay.model.decode import Decoding, decode  # noqa: E402
from overlay.model.lean import LeanLlama  # noqa: E402
from overlay.model.numeric import NumericPath, autocast, path_of, set_path  # noqa: E402
from overlay.model.prefix import PREFIXES  # noqa: E402

DOCS = ROOT / "examples" / "docs"
# One thread: CPU seconds of this process (the machine is shared and its load swings, so
# wall time measures the neighbours); more threads: wall time.
clock = time.process_time
SYSTEM = (
    "You are a careful assistant. Answer the question using only the numbered passages and "
    "cite them like [1]. If the passages do not hold the answer, say you do not know."
)
QUESTIONS = [
    "How many days of paid annual leave do employees get?",
    "Who founded Halvorsen Instruments and when?",
    "How can customers reach support?",
    "What does the Lumen L-2 cost?",
]


def passages(n_words: int, stride: int | None = None) -> list[str]:
    """Passages of about ``n_words`` words from the sample documents (overlapping when
    ``stride`` < ``n_words``)."""
    words = " ".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.iterdir())).split()
    step = stride or n_words
    return [" ".join(words[i : i + n_words]) for i in range(0, len(words) - n_words, step)]


def prompt(tok: Any, question: str, budget: int) -> list[int]:
    """A chat prompt of about ``budget`` tokens: system, numbered passages, the question."""
    blocks: list[str] = []
    for i, text in enumerate(passages(60), 1):
        blocks.append(f"[{i}] {text}")
        msgs = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "\n".join(blocks) + f"\n\nQuestion: {question}"},
        ]
        ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                      return_dict=True)["input_ids"]  # fmt: skip
        if len(ids) >= budget:
            return list(ids)
    return list(ids)


def load(path: str, threads: int) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from overlay.model.base import load_base_model
    from overlay.settings import Settings

    models = ROOT / ".cache" / "models"
    if path == "hf":
        torch.set_num_threads(threads)
        src = str(models / "smollm2-135m-instruct")
        model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
        return model, AutoTokenizer.from_pretrained(src)
    bm = load_base_model(Settings(models_dir=models, torch_threads=threads))
    if path == "bf16prefill":
        set_path(bm.model, NumericPath(scoring="bf16", prefill="bf16", reason="bench"))
    return bm.model, bm.tokenizer


def prefill_s(path: str, model: Any, ids: list[int]) -> float:
    times = []
    for _ in range(2):
        t = clock()
        with torch.inference_mode():
            if path == "hf":
                # as generate does: the vocabulary projection at the last position only
                model(input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1)
            else:  # our decode's prefill: the lean forward into a fresh KV, in its dtype
                lean = LeanLlama(model)
                with autocast(model, "prefill"):
                    lean.forward(torch.tensor([ids]), lean.new_kv(len(ids)))
        times.append(clock() - t)
    return min(times)


def generate(path: str, model: Any, tok: Any, ids: list[int], n: int) -> tuple[list[int], float]:
    """Greedy tokens after ``ids`` and the decode rate (tokens/s after the first)."""
    if path == "hf":
        with torch.inference_mode():
            t = clock()
            out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False,
                                 repetition_penalty=1.1)  # fmt: skip
            total = clock() - t
        new = [t for t in out[0, len(ids) :].tolist() if t != tok.eos_token_id]
        return new, (len(new) - 1) / max(total - prefill_s(path, model, ids), 1e-9)
    for _ in range(2):  # the second call keeps the prompt's states, the third reuses them
        got = decode(model, tok, ids, Decoding(max_new_tokens=n))
    t = clock()
    got = decode(model, tok, ids, Decoding(max_new_tokens=n))  # all but 1 token cached
    assert got.reused_tokens == len(ids) - 1
    total = clock() - t
    return got.token_ids, len(got.token_ids) / max(total, 1e-9)


def scoring(model: Any, tok: Any) -> tuple[float, list[float]]:
    views = passages(70, 15)[:16]  # ~90 model tokens each with the scoring prompt
    times, scores = [], []
    for _ in range(2):
        t = clock()
        with torch.inference_mode():
            scores = score_views(model, tok, QUESTIONS[0], views, batch_size=8).logprobs
        times.append(clock() - t)
    return min(times), scores


def prefix_hits(model: Any, tok: Any) -> dict[str, float]:
    """A session of chat turns over the same system prompt: how much prefill is reused."""
    PREFIXES.clear()
    for q in QUESTIONS:
        decode(model, tok, prompt(tok, q, 300), Decoding(max_new_tokens=4))
    return PREFIXES.stats.to_dict()


def main() -> None:
    path, threads, n, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    global clock
    clock = time.process_time if threads == 1 else time.perf_counter
    model, tok = load(path, threads)
    ids = prompt(tok, QUESTIONS[0], budget)
    figures: dict[str, Any] = {"path": path, "prompt_tokens": len(ids)}
    figures["prefill_s"] = median(prefill_s(path, model, ids) for _ in range(1))
    figures["tokens"], figures["decode_tps"] = generate(path, model, tok, ids, n)
    figures["scoring_s"], figures["scores"] = scoring(model, tok)
    if path == "ours":
        figures["prefix"] = prefix_hits(model, tok)
        figures["numeric"] = path_of(model).to_dict()
    figures["threads"] = torch.get_num_threads()
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
