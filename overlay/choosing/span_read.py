"""Reading in the choosing pass: the span head turns each candidate's scoring features into
its best answer span, a margin over "no answer here", and evidence in [0, 1].

    scoring pass (features at span_head.LAYERS) ─► SpanHead, all candidates in one batch
        ─► best span per candidate ─► margin ─► evidence σ(scale · (margin − center))
        ─► the span's words as the view shows them, and its sentence (the answer widens a
           span to that sentence where it would cut a clause: ``answering.widening.widen``)

The calibration (``scale``, ``center``) was fitted on development data only and ships in the
head's ``config.json`` (``scripts/train_span_head.py``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from overlay.choosing.fusion import ReadSpan
from overlay.choosing.scoring import Calibration, Features
from overlay.choosing.span_head import SpanHead, best_spans, load_head

BUILTIN_READER = Path(__file__).resolve().parent.parent / "builtin_readers" / "span"
_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+|\n\s*")
_lock = threading.Lock()
_loaded: dict[Path, SpanReader] = {}


@dataclass(frozen=True)
class SpanReader:
    """A trained span head, its evidence calibration and the base model it reads."""

    head: SpanHead
    calibration: Calibration  # span margin → evidence, fitted on development data
    base: dict[str, int]  # hidden_size, num_hidden_layers, vocab_size of the model it read

    def fits(self, config: object) -> bool:
        """Whether ``config`` (a transformers config) is the kind of model the head read."""
        return all(getattr(config, k, None) == v for k, v in self.base.items())

    def evidence(self, margin: float) -> float:
        return self.calibration(margin)


def has_reader(folder: Path | None = None) -> bool:
    """Whether a span reader ships in ``folder`` (default: the built-in one)."""
    return ((folder or BUILTIN_READER) / "head.safetensors").is_file()


def load_reader(folder: Path | None = None) -> SpanReader:
    """The span reader in ``folder`` (default: the built-in one), loaded once per process."""
    path = (folder or BUILTIN_READER).resolve()
    with _lock:
        if path not in _loaded:
            head, meta = load_head(path)
            cal, base = meta.get("calibration"), meta.get("base")
            if not isinstance(cal, dict) or not isinstance(base, dict):
                raise ValueError(f"span reader {path.name}: config.json lacks calibration/base")
            calibration = Calibration(float(cal["scale"]), float(cal["center"]))
            _loaded[path] = SpanReader(head, calibration, base)
        return _loaded[path]


@torch.inference_mode()
def read_spans(
    reader: SpanReader, features: Sequence[Features], views: Sequence[str]
) -> list[ReadSpan | None]:
    """Each view's best span and its sentence (``None`` where the view has no passage tokens);
    widening a span to its sentence is the answer's step (``overlay.answering.widening.widen``)."""
    rows = [i for i, f in enumerate(features) if f.chars]
    out: list[ReadSpan | None] = [None] * len(features)
    if not rows:
        return out
    n_p = max(len(features[i].chars) for i in rows)
    n_q = max(features[i].question.shape[0] for i in rows)
    first = features[rows[0]].passage
    p = first.new_zeros((len(rows), n_p, *first.shape[1:]))  # (B, P, L, H)
    q = first.new_zeros((len(rows), n_q, *first.shape[1:]))  # (B, Q, L, H)
    pm = torch.zeros((len(rows), n_p), dtype=torch.bool)
    qm = torch.zeros((len(rows), n_q), dtype=torch.bool)
    for r, i in enumerate(rows):
        f = features[i]
        p[r, : len(f.chars)], pm[r, : len(f.chars)] = f.passage[: len(f.chars)], True
        q[r, : f.question.shape[0]], qm[r, : f.question.shape[0]] = f.question, True
    start, end = reader.head(p, pm, q, qm)
    guesses = best_spans(start, end, reader.head.config.max_answer_tokens)
    for i, g in zip(rows, guesses, strict=True):
        if g.start < 0:
            continue
        chars = features[i].chars
        a, b = chars[g.start][0], chars[g.end][1]
        text, sentence = answer_text(views[i], a, b)
        out[i] = ReadSpan(text, sentence, g.margin, reader.evidence(g.margin))
    return out


def sentence_bounds(text: str, a: int, b: int) -> tuple[int, int]:
    """The character bounds of the sentence(s) of ``text`` holding ``[a, b)``."""
    starts = [0] + [m.end() for m in _END.finditer(text)]
    ends = [m.start() + len(m.group(0).rstrip()) for m in _END.finditer(text)] + [len(text)]
    s = max((x for x in starts if x <= a), default=0)
    e = min((x for x in ends if x >= b), default=len(text))
    return s, e


def answer_text(view: str, a: int, b: int) -> tuple[str, str]:
    """The span ``view[a:b]`` tidied, and the sentence(s) holding it."""
    s, e = sentence_bounds(view, a, b)
    sentence = view[s:e].strip()
    span = view[a:b].strip(" ,;:\"'()[]")
    if span.endswith(".") and not re.search(r"\b\w\.$", span):
        span = span[:-1]
    return span, sentence
