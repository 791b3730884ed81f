"""Adapter benchmarks: switching, cold load, generation speed, mixed-adapter batches.

    python bench/adapters_bench.py [--switches 1000] [--peft-switches 300] [--new-tokens 32]

Runs on the real SmolLM2-135M-Instruct when it has been converted under
``<repo>/.cache/models`` (``overlay models pull``); otherwise on a random Llama of
SmolLM2's shape (said so in the output). Adapters are random r=8 LoRAs on every
linear layer. Figures are printed side by side with PEFT's own mechanisms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the tests package (tiny models)

from overlay.adapters.merge import merged_model  # noqa: E402
from overlay.adapters.registry import AdapterRegistry  # noqa: E402
from overlay.model.base import BaseModel  # noqa: E402
from tests.adapters_tiny import TARGETS, tiny_model, tiny_tokenizer, write_adapter  # noqa: E402

PROMPT = "Explain in a few sentences why the sky is blue and what makes sunsets red."


def load_base() -> tuple[BaseModel, str]:
    models = REPO / ".cache" / "models"
    if (models / "smollm2-135m-instruct" / "config.json").is_file():
        from overlay.model.base import load_base_model
        from overlay.settings import Settings

        settings = Settings(data_dir=Path(tempfile.mkdtemp()), models_dir=models)
        return load_base_model(settings), "real SmolLM2-135M-Instruct"
    tok = tiny_tokenizer()
    model = tiny_model(
        len(tok), hidden=576, layers=30, num_attention_heads=9, num_key_value_heads=3,
        intermediate_size=1536, initializer_range=0.02,
    )  # fmt: skip
    return BaseModel(model, tok, "tiny-llama"), "RANDOM Llama of SmolLM2's shape (model not pulled)"


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(label: str, ms: list[float]) -> None:
    print(f"  {label:<42} p50 {pct(ms, 0.5):9.4f} ms   p99 {pct(ms, 0.99):9.4f} ms  (n={len(ms)})")


def bench_switch(reg: AdapterRegistry, n: int, n_peft: int) -> None:
    print("switch between two loaded adapters")
    reg.load("a1"), reg.load("a2")
    names = ["a1", "a2"]
    with reg.base.lock:
        i = iter(range(10**9))
        raw = timed(lambda: reg._switch(names[next(i) % 2]), n)
        reg._switch(None)

    def request() -> None:
        with reg.activate(names[next(i) % 2]):
            pass

    full = timed(request, n)
    with reg.base.lock:
        peft = timed(lambda: reg.peft.set_adapter(names[next(i) % 2]), n_peft)
        reg._refresh_layers()  # set_adapter re-bound each layer's active list
        reg._switch(None)
    row("registry switch (shared active list)", raw)
    row("registry activate() round trip (on + off)", full)
    row("PEFT set_adapter", peft)
    print(f"  ratio PEFT / registry switch (p50): {pct(peft, 0.5) / pct(raw, 0.5):.0f}x")


def bench_cold_load(reg: AdapterRegistry, n: int) -> None:
    print("cold load from disk (r=8, all linear layers)")

    def cold() -> None:
        reg.unload("a3")
        reg.load("a3")

    reg.load("a3")
    ours = timed(cold, n)

    def peft_load() -> None:
        reg.peft.load_adapter(str(reg.root / "a4"), adapter_name="p4")
        reg.peft.delete_adapter("p4")

    with reg.base.lock:
        theirs = timed(peft_load, max(3, n // 4))
        reg._refresh_layers()
        reg._switch(None)
    row("registry load (validate + inject + weights)", ours)
    row("PEFT load_adapter (+ delete)", theirs)


def gen_speed(model: Any, ids: torch.Tensor, new: int, runs: int) -> float:
    best = 0.0
    for _ in range(runs):
        t = time.perf_counter()
        with torch.no_grad():
            model.generate(
                input_ids=ids, max_new_tokens=new, min_new_tokens=new, do_sample=False,
                pad_token_id=0,
            )  # fmt: skip
        best = max(best, new / (time.perf_counter() - t))
    return best


def bench_generation(reg: AdapterRegistry, new: int, runs: int) -> None:
    print(f"generation tokens/s ({new} new tokens, greedy, best of {runs})")
    ids = reg.base.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    with reg.activate(None) as m:
        base = gen_speed(m, ids, new, runs)
    with reg.activate("a1") as m:
        unmerged = gen_speed(m, ids, new, runs)
    merged = gen_speed(merged_model(reg.base, reg.root, "a1"), ids, new, runs)
    print(f"  base {base:7.1f}   unmerged {unmerged:7.1f}   merged {merged:7.1f} tok/s")
    print(f"  unmerged / merged = {unmerged / merged:.2f}   merged / base = {merged / base:.2f}")


def bench_mixed(reg: AdapterRegistry, tokens: int, runs: int) -> None:
    names = ["a1", "a2", "a3", "a4"] * 2
    print(f"mixed-adapter batch: 8 rows x {tokens} tokens, 4 adapters (forward pass)")
    ids = torch.randint(5, 100, (8, tokens))  # (B, T)
    for n in set(names):
        reg.load(n)

    def mixed() -> None:
        with reg.activate_mixed(names) as (peft, rows), torch.no_grad():
            peft(input_ids=ids, adapter_names=rows)

    def grouped() -> None:
        for n in sorted(set(names)):
            idx = [i for i, x in enumerate(names) if x == n]
            with reg.activate(n) as m, torch.no_grad():
                m(input_ids=ids[idx])

    mixed(), grouped()  # warm up
    t_mixed, t_grouped = timed(mixed, runs), timed(grouped, runs)
    a, b = statistics.median(t_mixed), statistics.median(t_grouped)
    print(f"  mixed one pass {a:8.1f} ms ({8000 / a:6.1f} rows/s)")
    print(f"  grouped 4 x 2  {b:8.1f} ms ({8000 / b:6.1f} rows/s)")
    print(f"  throughput ratio mixed / grouped = {b / a:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--switches", type=int, default=1000)
    ap.add_argument("--peft-switches", type=int, default=300)
    ap.add_argument("--loads", type=int, default=20)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--threads", type=int, default=1,
        help="torch threads (1: stable figures on a shared 2-core machine; OpenMP spins badly "
        "when the cores are oversubscribed)",
    )  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base, what = load_base()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"model: {what}; torch threads {torch.get_num_threads()}; load average {load}")
    root = Path(tempfile.mkdtemp()) / "adapters"
    for i in range(1, 5):
        write_adapter(root, f"a{i}", base.model, rank=8, seed=i, base_name=base.name,
                      targets=TARGETS, scale=0.02)  # fmt: skip
    reg = AdapterRegistry(base, root, max_loaded=8)
    bench_switch(reg, args.switches, args.peft_switches)
    bench_cold_load(reg, args.loads)
    bench_generation(reg, args.new_tokens, args.runs)
    bench_mixed(reg, 64, max(3, args.runs))


if __name__ == "__main__":
    main()
