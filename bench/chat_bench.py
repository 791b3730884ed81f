"""``overlay chat`` in a terminal (pexpect), the real model and examples/docs: how long the first
answer takes when the question comes at once, and when the user takes a while to type it (the
REPL loads the model and reads ahead meanwhile), with and without reading ahead, side by side.

    python bench/chat_bench.py [--pause 20] [--data-dir /tmp/overlay-bench-chat]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pexpect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from followup_bench import cpu_flags  # noqa: E402 - a sibling script, not a package

ROOT = Path(__file__).resolve().parent.parent
CODE = "from overlay.cli import main; main()"
QUESTIONS = [
    "How many days of paid annual leave do employees get?",
    "Who founded Halvorsen Instruments?",
]


def first_answers(env: dict[str, str], pause: float) -> list[float]:
    """Seconds from each question sent to the next prompt, the first after ``pause``."""
    child = pexpect.spawn(sys.executable, ["-c", CODE, "chat", "-s", f"bench-{time.time()}",
                          "-c", "docs"], env=env, encoding="utf-8", timeout=300)  # fmt: skip
    try:
        child.expect("> ")
        time.sleep(pause)
        took = []
        for q in QUESTIONS:
            t0 = time.perf_counter()
            child.sendline(q)
            child.expect("\n> ")
            took.append(time.perf_counter() - t0)
        child.sendline("")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pause", type=float, default=20.0, help="seconds the user takes to type")
    ap.add_argument("--data-dir", default="/tmp/overlay-bench-chat")
    args = ap.parse_args()
    env = {**os.environ, "OVERLAY_DATA_DIR": args.data_dir, "OVERLAY_CLI_SERVER": "off",
           "TERM": "dumb", "COLUMNS": "200"}  # fmt: skip
    cmd = [sys.executable, "-c", CODE, "ingest", str(ROOT / "examples" / "docs"), "-c", "docs"]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    ask = [sys.executable, "-c", CODE, "ask", "warm up", "-c", "docs"]  # converts the model once
    subprocess.run(ask, env=env, check=True, capture_output=True)
    print(f"cpu: {cpu_flags()}; pause {args.pause:.0f} s before the first question")
    runs = [
        ("asked at once", env, 0.0),
        ("typed, nothing read ahead (api.warm_views 0)", {**env, "OVERLAY_API__WARM_VIEWS": "0"},
         args.pause),
        ("typed, read ahead (default)", env, args.pause),
    ]  # fmt: skip
    print("\n| run | first answer | second answer |\n|---|---|---|")
    firsts = {}
    for label, run_env, pause in runs:
        took = first_answers(run_env, pause)
        firsts[label] = took[0]
        print(f"| {label} | {took[0]:.2f} s | {took[1]:.2f} s |", flush=True)
    now = firsts[runs[-1][0]]
    for label, *_ in runs[:-1]:
        print(f"first answer: read ahead {now:.2f} s vs {label} {firsts[label]:.2f} s "
              f"({firsts[label] / now:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
