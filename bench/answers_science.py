"""Scientific abstracts as a new user asks them (``answers_bench.py --science``): 14 questions
with the clause that answers them and 3 the texts do not answer, over 30 SciFact abstracts
(``../shared/data/scifact/corpus.jsonl``, ODC-By 1.0), each saved as a paper is: its title on
the first line, a blank line, its text; one collection.

**A development check, not evidence.** The questions were written while fixing how a title
over a long paragraph is chunked (``ingest/split.py``) and the splitter's scientific
abbreviations; the held-out figures are ``answers_bench.py``'s. Methods side by side as in the
licence and how-to checks.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from bench.answers_texts import texts_check
from overlay.services import Services

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared/data/scifact/corpus.jsonl"
QUESTIONS = [
    ("What is the resolution of the crystal structure of the H2A.Z nucleosome?", "2.6 Å"),
    ("What does INO80 remove from chromatin?", "unacetylated H2A.Z"),
    ("How many mutations have been reported in the nephrin gene?", "30"),
    ("What share of mutations in Finland do the two nonsense mutations account for?", "over 94%"),
    ("What is the pH optimum of Methanosphaera stadtmaniae?", "6.5 to 6.9"),
    ("Where does Methanosphaera stadtmaniae live?", "the human large intestine"),
    ("What is the temperature optimum of Methanosphaera stadtmaniae?", "36° to 40° C"),
    ("Which daughter cell inherits midbody derivatives?",
     "the daughter cell with the older centrosome"),
    ("What receptor mediates the autophagic degradation of midbody derivatives?", "NBR1"),
    ("What imaging technique was used with quantum dots?", "multiphoton microscopy techniques"),
    ("How many novel nephrin mutations does the update describe?", "20"),
    ("What inhibits Methanosphaera stadtmaniae?",
     "metronidazole, bacitracin, monensin, lasalocid, or bromoethanesulfonate"),
    ("How does Methanosphaera stadtmaniae obtain energy?",
     "by using hydrogen to reduce methanol to methane"),
    ("Why is incorporating H2A.Z and H2A in the same nucleosome unlikely?",
     "due to significant changes in the interface between the two H2A.Z–H2B dimers"),
]  # fmt: skip
UNANSWERED = [
    "Which drug cures congenital nephrotic syndrome?",
    "How many patients were enrolled in the quantum dot study?",
    "What is the boiling point of methanol?",
]


def abstracts() -> dict[str, str]:
    """The 30 abstracts as files: 6 the questions ask about, 24 others."""
    docs = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    picked = random.Random(21).sample([d for d in docs if 600 < len(d["text"]) < 1100], 6)
    picked += random.Random(5).sample(docs, 24)
    return {f"{d['_id']}.txt": f"{d['title']}\n\n{d['text']}" for d in picked}


def science_check(svc: Services) -> None:
    if not CORPUS.is_file():
        print(f"the SciFact corpus is not beside this checkout ({CORPUS})")
        return
    texts_check(svc, "science", abstracts(), QUESTIONS, UNANSWERED)
