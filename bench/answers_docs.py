"""The sample documents (examples/docs) as a new user asks them: 8 questions they answer, 4 they
do not, every method side by side, turn latency (``answers_bench.py --docs``).

A question counts as answered from the right sentence when the answer holds its key phrase and
the first citation is the expected document; a question the documents do not answer counts only
when abstained.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from ingest.pipeline import ingest_paths
from overlay.services import Services
from overlay.turn import ask

DOCS = Path(__file__).resolve().parent.parent / "examples" / "docs"
ANSWERED = [
    ("How do I contact support?", "phone", "support.html"),
    ("How many days of paid annual leave do employees get?", "27", "handbook.md"),
    ("Who founded Halvorsen Instruments?", "Ingrid Halvorsen", "history.txt"),
    ("How long is parental leave?", "20 weeks", "handbook.md"),
    ("How much does the T-40 weigh?", "640 grams", "products.md"),
    ("What is the daily meal allowance on business trips?", "48 euros", "handbook.md"),
    ("How long is the warranty on Halvorsen sensors?", "five-year", "support.html"),
    ("Where is the equipment desk?", "B-112", "handbook.md"),
]
UNANSWERED = [
    "Can employees work remotely?",
    "What is the dress code at the office?",
    "How much does the Kestrel K-9 cost?",
    "Does the company offer stock options to employees?",
]


def docs_check(svc: Services, readers: list[str]) -> None:
    ingest_paths(svc, [DOCS], collection="docs")
    base = svc.settings
    for reader in readers:
        svc.settings = base.updated(answer={**base.answer.model_dump(), "reader": reader})
        ask(svc, "warm up", collection="docs")
        secs, right, abstained = [], 0, 0
        print(f"\n## examples/docs, read mode with reader={reader}")
        print("| question | answer | first citation | ok | s |\n|---|---|---|---|---|")
        for q, key, source in [*ANSWERED, *((q, "", "") for q in UNANSWERED)]:
            t0 = time.perf_counter()
            a = ask(svc, q, collection="docs")
            secs.append(time.perf_counter() - t0)
            cited = Path(a.citations[0].hit.source).name if a.citations else "—"
            ok = a.abstained if not key else (key in a.answer and cited == source)
            right += bool(ok and key)
            abstained += bool(ok and not key)
            print(f"| {q} | {a.answer} | {cited} | {'yes' if ok else 'NO'} | {secs[-1]:.2f} |")
        print(f"\nanswered from the right sentence {right}/{len(ANSWERED)}, abstained "
              f"{abstained}/{len(UNANSWERED)}, median {statistics.median(secs):.2f} s")  # fmt: skip
    svc.settings = base
