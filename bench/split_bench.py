"""Splitting cost per shape of text: CPU seconds per MB at two sizes and how they scale.

The test (tests/ingest/test_ingest_shapes.py) counts the splitter's tokenizer work, which
no load can change; this measures what that work costs in time, with the built-in
embedder's own tokenizer (as ingestion runs it). Process CPU time, best of ``--repeat``:
a busy neighbour stretches wall time far more than it does our CPU time. Linear splitting
keeps s/MB flat from the smaller to the larger size (ratio ~1); a quadratic one multiplies
it by the size ratio.

    python bench/split_bench.py [--mb 1 4] [--repeat 1] [--shapes tiny_paragraphs mix]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.loaders import Section  # noqa: E402
from ingest.split import Splitter  # noqa: E402
from memory.minilm import load_embedder  # noqa: E402
from tests.ingest.text_shapes import SHAPES, prose, shape  # noqa: E402

MB = 2**20


def _text(name: str, chars: int) -> tuple[str, str]:
    if name == "prose":
        return prose(random.Random(1), chars), "text"
    return shape(name, random.Random(7), chars, "a", 30)  # one letter, nesting 30


def _seconds(splitter: Splitter, text: str, kind: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        splitter.split("s", kind, [Section(text)])
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, nargs=2, default=[1.0, 4.0], metavar=("SMALL", "LARGE"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--shapes", nargs="*", default=["prose", *SHAPES])
    args = ap.parse_args()
    emb = load_embedder("all-MiniLM-L6-v2")
    calls = [0]

    def count(text: str) -> int:
        calls[0] += 1
        return emb.count_tokens(text)

    splitter = Splitter(count, emb.max_tokens, 200, 32)  # the default chunking
    splitter.split("warm-up", "markdown", [Section(prose(random.Random(0), 20_000))])
    small, large = args.mb
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; CPU s/MB, best of {args.repeat}")  # fmt: skip
    print(f"| shape | s/MB at {small:g} MB | s/MB at {large:g} MB | ratio | tokenizer calls/char |")
    print("|---|---|---|---|---|")
    for name in args.shapes:
        per_mb = []
        for mb in (small, large):
            text, kind = _text(name, int(mb * MB))
            calls[0] = 0
            per_mb.append(_seconds(splitter, text, kind, args.repeat) / len(text) * MB)
            per_char = calls[0] / args.repeat / len(text)
        ratio = per_mb[1] / per_mb[0] if per_mb[0] else float("nan")
        print(f"| {name} | {per_mb[0]:.2f} | {per_mb[1]:.2f} | {ratio:.2f} | {per_char:.3f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
