"""Scoring for ``docqa_bench.py``: SQuAD token-F1 / exact match, per-method summaries, table."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from overlay.answering.spans import squad_normalize as normalize

_CITE = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")


def strip_citations(text: str) -> str:
    return " ".join(_CITE.sub(" ", text).split())


def f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    if not p or not g:
        return float(p == g)
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def best_f1(pred: str, golds: list[str]) -> float:
    return max(f1(strip_citations(pred), g) for g in golds)


def holds(text: str, golds: list[str]) -> bool:
    """``text`` contains one of ``golds`` (SQuAD-normalised, whole words)."""
    t = f" {normalize(text)} "
    return any(f" {normalize(g)} " in t for g in golds if normalize(g))


def exact(pred: str, golds: list[str]) -> float:
    return float(any(normalize(strip_citations(pred)) == normalize(g) for g in golds))


@dataclass
class Outcome:
    """One method's answer to one question."""

    kind: str  # "answerable" | "unanswerable" | "off"
    answer: str
    abstained: bool
    first_source: str | None
    seconds: float
    generated: bool  # the model generated text for this turn
    f1: float = 0.0
    em: float = 0.0
    right_article: bool = False
    answer_in_cited: bool = False  # the first cited chunk holds a gold answer
    why: str = ""  # why it abstained (Answer.abstained_by); "" when it answered


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]

    def row(self) -> dict[str, float]:
        ans, una, off = self.of("answerable"), self.of("unanswerable"), self.of("off")
        said = [o for o in ans if not o.abstained]
        words = [len(strip_citations(o.answer).split()) for o in said]
        secs = sorted(o.seconds for o in self.outcomes)
        return {
            "F1": _mean([o.f1 for o in ans]),
            "EM": _mean([o.em for o in ans]),
            "cite@1": _mean([float(o.right_article) for o in ans]),
            "chunk@1": _mean([float(o.answer_in_cited) for o in ans]),
            "abst ans": _mean([float(o.abstained) for o in ans]),
            "abst unans": _mean([float(o.abstained) for o in una]),
            "abst off": _mean([float(o.abstained) for o in off]),
            "words": statistics.median(words) if words else float("nan"),
            "p50 s": _pct(secs, 50),
            "p90 s": _pct(secs, 90),
            "gen": _mean([float(o.generated) for o in self.outcomes]),
            "n": float(len(self.outcomes)),
        }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def print_table(title: str, rows: dict[str, dict[str, float]], gold_words: float) -> None:
    cols = list(next(iter(rows.values())))
    print(f"\n## {title} (gold median words {gold_words:g})")
    print(f"| method | {' | '.join(cols)} |")
    print(f"|---|{'---|' * len(cols)}")
    for name, row in rows.items():
        cells = " | ".join("—" if v != v else f"{v:.3g}" if c != "n" else f"{v:.0f}"
                           for c, v in row.items())  # fmt: skip
        print(f"| {name} | {cells} |")
