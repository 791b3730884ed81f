"""The pure fusion and choice: ordering, threshold, abstention, learned boosts, dedupe."""

from __future__ import annotations

import pytest

from memory.errors import InvalidInput
from memory.types import Hit
from overlay.choosing.fusion import FusionWeights, choose, dedupe, fuse


def _hits(n: int) -> list[Hit]:
    return [Hit(f"c{i}", f"text {i}", 1.0 / (i + 1), f"doc{i}.md") for i in range(n)]


def test_model_evidence_reorders_retrieval() -> None:
    choice = choose(_hits(4), [0.1, 0.2, 0.95, 0.3], threshold=0.5, top_n=2)
    assert [s.hit.id for s in choice.chosen] == ["c2"]
    assert choice.ranked[0].hit.id == "c2" and not choice.abstained
    assert [s.rank for s in choice.ranked].count(2) == 1


def test_rank_breaks_ties_between_equally_good_candidates() -> None:
    choice = choose(_hits(3), [0.9, 0.9, 0.9], threshold=0.5, top_n=2)
    assert [s.hit.id for s in choice.chosen] == ["c0", "c1"]


def test_nothing_clears_threshold_abstains_even_for_top_ranked() -> None:
    choice = choose(_hits(5), [0.49, 0.2, 0.1, 0.0, 0.3], threshold=0.5)
    assert choice.abstained and choice.chosen == []
    assert len(choice.ranked) == 5  # still ranked, for `retrieve --method chosen`
    assert choose(_hits(1), [0.5], threshold=0.5).chosen  # the threshold is inclusive


def test_top_n_limits_the_choice() -> None:
    choice = choose(_hits(6), [0.9] * 6, threshold=0.5, top_n=3)
    assert len(choice.chosen) == 3


def test_learned_boost_lifts_a_candidate_over_the_threshold_and_up_the_ranking() -> None:
    hits = _hits(3)
    scores = [0.6, 0.45, 0.1]
    plain = choose(hits, scores, threshold=0.5, top_n=3)
    assert [s.hit.id for s in plain.chosen] == ["c0"]
    w = FusionWeights(model=0.6, rank=0.4, learned=0.3)
    boosted = choose(hits, scores, learned={"c1": 1.0, "c0": -1.0}, weights=w, top_n=3)
    assert boosted.ranked[0].hit.id == "c1"
    assert [s.hit.id for s in boosted.chosen] == ["c1"]
    assert boosted.ranked[0].evidence == pytest.approx(0.75)
    clamp = fuse(hits, scores, learned={"c2": 99.0}, weights=w)
    assert next(s for s in clamp if s.hit.id == "c2").learned == 1.0


def test_scores_are_in_unit_interval_and_monotone_in_model_score() -> None:
    ranked = fuse(_hits(3), [0.0, 1.0, 0.5])
    assert all(0.0 <= s.score <= 1.0 for s in ranked)
    by_id = {s.hit.id: s.score for s in ranked}
    assert by_id["c1"] > by_id["c2"]


def test_mismatched_lengths_and_bad_top_n_are_refused() -> None:
    with pytest.raises(InvalidInput):
        fuse(_hits(2), [0.5])
    with pytest.raises(InvalidInput):
        choose(_hits(2), [0.5, 0.5], top_n=0)


def test_dedupe_by_id_and_text_keeps_first() -> None:
    hits = _hits(3) + [Hit("c0", "other", 0.1), Hit("x", "  TEXT   1 ", 0.1)]
    assert [h.id for h in dedupe(hits)] == ["c0", "c1", "c2"]
