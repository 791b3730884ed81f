"""The answer gate: its features, its logistic, how it decides a choice, and the shipped file."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from memory.types import CollectionSize, Hit
from overlay.choosing.abstain import GATE_FILE, NAMES, Gate, features, gated, load_gate
from overlay.choosing.fusion import ReadSpan, choose
from overlay.choosing.scoring import Scores

HITS = [
    Hit("a", "Employees get 27 days of paid annual leave each year.", 0.9,
        metadata={"dense_score": 0.61}),
    Hit("b", "The equipment desk is in room B-112.", 0.5, metadata={"dense_score": 0.2}),
    Hit("c", "Parental leave lasts 20 weeks.", 0.4),  # found by BM25 only: no dense score
]  # fmt: skip
READS = [ReadSpan("27 days", HITS[0].text, 4.0, 0.8), None, ReadSpan("20 weeks", "", 1.0, 0.3)]


def test_features_read_the_best_candidate_and_all_of_them() -> None:
    x = dict(zip(NAMES, features("How many days of annual leave?", HITS, [2.0, 0.5, -0.5],
                                 READS, -3.5, best=0), strict=True))  # fmt: skip
    assert x["margin"] == 2.0 and x["margin_max"] == 2.0
    assert math.isclose(x["margin_gap"], 2.0 - 0.0)  # the others' mean is 0
    assert x["evidence"] == 0.8 and x["evidence_max"] == 0.8
    assert x["dense"] == 0.61 and x["dense_max"] == 0.61
    # the sparse index's terms (stemmed, stop words out): mani, day, annual, leav; "many" is
    # in no candidate
    assert x["coverage"] == 0.75 and x["coverage_any"] == 0.75
    assert x["baseline"] == -3.5 and math.isclose(x["terms"], math.log1p(4))
    other = dict(zip(NAMES, features("How many days of annual leave?", HITS, [2.0, 0.5, -0.5],
                                     READS, -3.5, best=2), strict=True))  # fmt: skip
    assert other["evidence"] == 0.3 and other["dense"] == 0.0
    assert other["coverage"] == 0.25  # only "leav"


def _gate(threshold: float, bias: float) -> Gate:
    n = len(NAMES)
    return Gate((0.0,) * n, (1.0,) * n, (0.0,) * n, bias, threshold)


def _scores() -> Scores:
    return Scores([-1.0, -2.5, -3.0], -3.0, [0.9, 0.4, 0.3])


def test_the_gate_decides_abstention_and_keeps_the_best_first() -> None:
    low = choose(HITS, [0.30, 0.20, 0.10], threshold=0.45, top_n=3)
    assert low.abstained  # the floor alone would abstain
    gated(low, "How many days of annual leave?", HITS, _scores(), READS, floor=0.15, top_n=3,
          gate=_gate(0.5, bias=2.0))  # fmt: skip
    assert [c.hit.id for c in low.chosen] == ["a", "b"]  # c's evidence 0.10 is under the floor
    assert math.isclose(low.notes["gate"], 1 / (1 + math.exp(-2.0)))
    high = choose(HITS, [0.95, 0.9, 0.8], threshold=0.45, top_n=3)
    gated(high, "Who won the 2018 World Cup?", HITS, _scores(), READS, floor=0.45, top_n=3,
          gate=_gate(0.5, bias=-2.0))  # fmt: skip
    assert high.abstained and high.notes["gate"] < 0.5


def test_a_vote_or_a_memory_floor_keeps_the_floors_decision() -> None:
    voted = choose(HITS, [0.5, 0.2, 0.1], learned={"a": 1.0}, threshold=0.45, top_n=3)
    gated(voted, "q", HITS, _scores(), READS, floor=0.45, top_n=3, gate=_gate(0.5, bias=-9.0))
    assert [c.hit.id for c in voted.chosen] == ["a"] and "gate" not in voted.notes
    mem = [Hit("m", "My name is Bob.", 0.9, kind="memory", metadata={"memory_evidence": 0.9}),
           *HITS[1:]]  # fmt: skip
    remembered = choose(mem, [0.9, 0.2, 0.1], threshold=0.45, top_n=3)
    gated(remembered, "What is my name?", mem, _scores(), READS, floor=0.45, top_n=3,
          gate=_gate(0.5, bias=-9.0))  # fmt: skip
    assert [c.hit.id for c in remembered.chosen] == ["m"]


def test_the_shipped_gate_loads_and_a_gate_of_other_features_does_not(tmp_path: Path) -> None:
    gate = load_gate()
    assert gate is not None and len(gate.weights) == len(NAMES) and 0 < gate.threshold < 1
    raw = json.loads(GATE_FILE.read_text())
    assert raw["names"] == list(NAMES)
    assert "policyqa" not in json.dumps(raw).lower()  # fitted without PolicyQA
    other = tmp_path / "gate.json"
    other.write_text(json.dumps({**raw, "names": ["margin"]}))
    assert load_gate(other) is None
    assert load_gate(tmp_path / "missing.json") is None


@pytest.mark.parametrize("margin", [-2.0, 0.0, 3.0])
def test_a_better_margin_never_lowers_the_shipped_gates_probability(margin: float) -> None:
    gate = load_gate()
    assert gate is not None
    base = features("How many days of annual leave?", HITS, [margin, 0.5, -0.5], READS, -3.5, 0)
    more = features("How many days of annual leave?", HITS, [margin + 1, 0.5, -0.5], READS, -3.5, 0)
    assert gate.probability(more) >= gate.probability(base)


def test_a_collection_of_one_document_has_its_own_threshold() -> None:
    gate = replace(_gate(0.10, bias=0.0), small_threshold=0.06, small_chunks=90)
    assert gate.threshold_for(None) == 0.10  # size unknown: the large collections' threshold
    assert gate.threshold_for(CollectionSize(1, 1)) == 0.06
    assert gate.threshold_for(CollectionSize(1, 90)) == 0.06
    assert gate.threshold_for(CollectionSize(1, 91)) == 0.10  # longer than it was fitted on
    assert gate.threshold_for(CollectionSize(2, 20)) == 0.10  # two documents
    assert gate.threshold_for(CollectionSize(0, 20)) == 0.10  # no manifest: texts added bare
    assert _gate(0.10, bias=0.0).threshold_for(CollectionSize(1, 5)) == 0.10  # none fitted


def test_the_collections_size_decides_a_probability_between_the_thresholds() -> None:
    gate = replace(_gate(0.10, bias=math.log(0.07 / 0.93)), small_threshold=0.06,
                   small_chunks=90)  # P = 0.07 for any question  # fmt: skip
    sizes = ((CollectionSize(1, 30), True), (None, False), (CollectionSize(3, 30), False))
    for size, answers in sizes:
        choice = choose(HITS, [0.95, 0.9, 0.8], threshold=0.45, top_n=3)
        gated(choice, "How many days of annual leave?", HITS, _scores(), READS, floor=0.45,
              top_n=3, gate=gate, size=size)  # fmt: skip
        assert (not choice.abstained) is answers, size


def test_the_shipped_gates_one_document_threshold_round_trips(tmp_path: Path) -> None:
    gate = load_gate()
    assert gate is not None and gate.small_threshold is not None
    assert 0 < gate.small_threshold <= gate.threshold and gate.small_chunks > 0
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(gate.to_json()))
    assert load_gate(path) == gate
