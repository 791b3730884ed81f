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
from overlay.answering.ahead import warm_passages
from overlay.choosing.view_cache import VIEWS
from overlay.choosing.warm import warm_views
from overlay.model import threads
from overlay.model.prefix import PASSAGES, PREFIXES, prefix_cache_stats
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


# (label, answer settings, choose settings, batch threads: None = the default, read ahead:
# 0 nothing, 1 views, 2 views and reader passages)
VARIANTS = [
    ("reader=adapter", {"reader": "adapter"}, {}, None, 0),
    (
        "reader=span, batched passes on 1 thread, no view cache (before)",
        {},
        {"view_cache_mb": 0, "views": "sentences"},
        1,
        0,
    ),
    ("reader=span, views = best sentences (before)", {}, {"views": "sentences"}, None, 0),
    ("reader=span, views = windows, none read ahead", {}, {}, None, 0),
    ("reader=span, views = windows read ahead (before)", {}, {}, None, 1),
    ("reader=span, read ahead, no judge (before)", {"reader_judge": ""}, {}, None, 2),
    ("reader=span, views and reader passages read ahead, judged (default)", {}, {}, None, 2),
]


def docs_check(svc: Services) -> None:
    """Every variant over the 12 questions, its view cache empty at the start (each question is
    asked once: views are reused only from earlier questions), or filled by reading the
    documents' windows, and the reader's passages, ahead (as the server does while idle; not
    timed)."""
    ingest_paths(svc, [DOCS], collection="docs")
    base, default_threads = svc.settings, threads.batch_threads()
    medians = {}
    for label, answer, choose, batch, ahead in VARIANTS:
        svc.settings = base.updated(
            answer={**base.answer.model_dump(), **answer},
            choose={**base.choose.model_dump(), **choose},
        )  # fmt: skip
        threads.set_batch_threads(batch or default_threads)
        VIEWS.clear()
        PASSAGES.clear()
        PREFIXES.clear()  # earlier variants asked the same questions: their prompts recur
        ask(svc, "warm up", collection="docs")  # loads the reader adapter, as the server does
        limit = svc.settings.api.warm_views
        if ahead:
            print(f"\n{warm_views(svc, ['docs'], limit=limit)} views read ahead")
        if ahead > 1:
            print(f"{warm_passages(svc, ['docs'], limit=limit)} reader passages read ahead")
        secs, right, abstained = [], 0, 0
        print(f"\n## examples/docs, read mode, {label}")
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
        medians[label] = statistics.median(secs)
        print(f"\nanswered from the right sentence {right}/{len(ANSWERED)}, abstained "
              f"{abstained}/{len(UNANSWERED)}, median {medians[label]:.2f} s, batch threads "
              f"{threads.batch_threads()}, view cache {VIEWS.stats()}, reader passages "
              f"{prefix_cache_stats(PASSAGES)}")  # fmt: skip
    svc.settings = base
    threads.set_batch_threads(default_threads)
    now = medians[VARIANTS[-1][0]]
    for label, *_ in VARIANTS[1:-1]:
        then = medians[label]
        print(f"turn median: default {now:.2f} s vs {label} {then:.2f} s ({then / now:.2f}x)")
