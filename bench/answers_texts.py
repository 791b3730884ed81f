"""Asking a set of texts as a new user would (``answers_bench.py --licences`` / ``--howto``):
questions, each with the clause that answers it, and questions the texts do not answer, over
one collection. Methods side by side: hybrid's top chunk, its best sentence (naive), and the
default read mode; F1 against the clause, whether the first citation holds it, abstention, and
the turn's time.

**Development checks, not evidence**: their questions were written while fixing what they
showed. The held-out figures are ``answers_bench.py``'s.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence

from bench.docqa_bench import docs_dir
from bench.docqa_score import best_f1, holds
from ingest.pipeline import ingest_paths
from overlay.choosing.views import best_sentence
from overlay.services import Services
from overlay.turn import ask, retrieve


def texts_check(
    svc: Services, label: str, files: Mapping[str, str | bytes],
    questions: Sequence[tuple[str, str]], unanswered: Sequence[str],
) -> None:  # fmt: skip
    """Ingest ``files`` (name → text or a file's bytes) as one collection and ask it; prints
    the tables."""
    folder = docs_dir(label)
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    ingest_paths(svc, [folder], collection=label)
    f1s: dict[str, list[float]] = {"hybrid": [], "naive": [], "default": []}
    held: dict[str, list[bool]] = {"hybrid": [], "default": []}
    secs, abstained = [], 0
    print(f"\n## {label}, read mode (default)\n| question | answer | F1 | holds | s |")
    print("|---|---|---|---|---|")
    for q, gold in [*questions, *((q, "") for q in unanswered)]:
        top = retrieve(svc, q, label, k=1, method="hybrid")[0]
        t0 = time.perf_counter()
        a = ask(svc, q, collection=label)
        secs.append(time.perf_counter() - t0)
        shown = a.answer[:160].replace("|", "\\|")
        if not gold:
            abstained += a.abstained
            print(f"| {q} | {shown} | | | {secs[-1]:.2f} |")
            continue
        cited = a.citations[0].hit.text if a.citations else ""
        f1 = 0.0 if a.abstained else best_f1(a.answer, [gold])
        f1s["hybrid"].append(best_f1(top.text, [gold]))
        f1s["naive"].append(best_f1(best_sentence(q, top.text), [gold]))
        f1s["default"].append(f1)
        held["hybrid"].append(holds(top.text, [gold]))
        held["default"].append(holds(cited, [gold]))
        print(f"| {q} | {shown} | {f1:.2f} | {held['default'][-1]} | {secs[-1]:.2f} |")
    print("\n| method | F1 | first citation holds the clause |\n|---|---|---|")
    for m, values in f1s.items():
        share = f"{statistics.mean(held[m]):.2f}" if m in held else "—"
        print(f"| {m} | {statistics.mean(values):.3f} | {share} |")
    print(f"\nabstained {abstained}/{len(unanswered)} unanswered; turn median "
          f"{statistics.median(secs):.2f} s")  # fmt: skip
