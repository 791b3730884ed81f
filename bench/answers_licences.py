"""Licence texts as a new user asks them (``answers_bench.py --licences``): 12 questions with the
clause that answers them and 2 the texts do not answer, over five licences as Debian ships them
(``/usr/share/common-licenses``: Apache-2.0, MPL-2.0, GPL-3, LGPL-3, Artistic), one collection.

**A development check, not evidence.** The questions were written while building the sentence
splitter, scoped retrieval and definition questions, and those were tried on them; the
held-out figures are ``answers_bench.py``'s. Methods side by side: hybrid's top chunk, its best
sentence (naive), and the default read mode; F1 against the clause, whether the first citation
holds it, abstention.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.docqa_score import best_f1, holds
from ingest.pipeline import ingest_paths
from overlay.choosing.views import best_sentence
from overlay.services import Services
from overlay.turn import ask, retrieve

LICENCES = Path("/usr/share/common-licenses")
FILES = ("Apache-2.0", "MPL-2.0", "GPL-3", "LGPL-3", "Artistic")
QUESTIONS = [
    ("In the Mozilla Public License, what is a Larger Work?", "a work that combines Covered "
     "Software with other material, in a separate file or files, that is not Covered Software"),
    ("Under the Apache License, what happens to patent licenses if you sue someone claiming the "
     "Work infringes a patent?", "shall terminate as of the date such litigation is filed"),
    ("In the Mozilla Public License, what is Executable Form?",
     "any form of the work other than Source Code Form"),
    ("Under the Apache License, can I use the licensor's trademarks?", "This License does not "
     "grant permission to use the trade names, trademarks, service marks, or product names of "
     "the Licensor"),
    ("How many days does the GPL give to cure a violation after notice?", "30 days"),
    ("Under the Apache License, what must I include when I redistribute the Work?",
     "a copy of this License"),
    ("Who is the steward of the Mozilla Public License?", "Mozilla Foundation"),
    ("What does the Apache License say about warranties?",
     "WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND"),
    ("In the GPL, what is the Corresponding Source?", "all the source code needed to generate, "
     "install, and (for an executable work) run the object code and to modify the work"),
    ("Under the Apache License, what is a Contribution?", "any work of authorship, including the "
     "original version of the Work and any modifications or additions to that Work or Derivative "
     "Works thereof, that is intentionally submitted to Licensor for inclusion in the Work"),
    ("Can I charge a fee for distributing copies under the GPL?",
     "You may charge any price or no price for each copy that you convey"),
    ("Which court has jurisdiction over disputes under the Mozilla Public License?",
     "courts of a jurisdiction where the defendant maintains its principal place of business"),
]  # fmt: skip
UNANSWERED = [
    "What is the price of a commercial licence for Apache?",
    "Does the GPL allow use in a nuclear power plant?",
]


def licence_check(svc: Services) -> None:
    missing = [f for f in FILES if not (LICENCES / f).is_file()]
    if missing:
        print(f"the licence texts are not on this machine ({LICENCES}: {', '.join(missing)})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for f in FILES:
            shutil.copy(LICENCES / f, Path(tmp) / f"{f}.txt")
        ingest_paths(svc, [Path(tmp)], collection="licences")
    f1s: dict[str, list[float]] = {"hybrid": [], "naive": [], "default": []}
    held: dict[str, list[bool]] = {"hybrid": [], "default": []}
    secs, abstained = [], 0
    print("\n## licences, read mode (default)\n| question | answer | F1 | holds | s |")
    print("|---|---|---|---|---|")
    for q, gold in [*QUESTIONS, *((q, "") for q in UNANSWERED)]:
        top = retrieve(svc, q, "licences", k=1, method="hybrid")[0]
        t0 = time.perf_counter()
        a = ask(svc, q, collection="licences")
        secs.append(time.perf_counter() - t0)
        if not gold:
            abstained += a.abstained
            print(f"| {q} | {a.answer[:160]} | | | {secs[-1]:.2f} |")
            continue
        cited = a.citations[0].hit.text if a.citations else ""
        f1 = 0.0 if a.abstained else best_f1(a.answer, [gold])
        f1s["hybrid"].append(best_f1(top.text, [gold]))
        f1s["naive"].append(best_f1(best_sentence(q, top.text), [gold]))
        f1s["default"].append(f1)
        held["hybrid"].append(holds(top.text, [gold]))
        held["default"].append(holds(cited, [gold]))
        print(f"| {q} | {a.answer[:160]} | {f1:.2f} | {held['default'][-1]} | {secs[-1]:.2f} |")
    print("\n| method | F1 | first citation holds the clause |\n|---|---|---|")
    for m, values in f1s.items():
        share = f"{statistics.mean(held[m]):.2f}" if m in held else "—"
        print(f"| {m} | {statistics.mean(values):.3f} | {share} |")
    print(f"\nabstained {abstained}/{len(UNANSWERED)} unanswered; turn median "
          f"{statistics.median(secs):.2f} s")  # fmt: skip
