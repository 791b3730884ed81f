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

from pathlib import Path

from bench.answers_texts import texts_check
from overlay.services import Services

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
    files = {f"{f}.txt": (LICENCES / f).read_text(encoding="utf-8") for f in FILES}
    texts_check(svc, "licences", files, QUESTIONS, UNANSWERED)
