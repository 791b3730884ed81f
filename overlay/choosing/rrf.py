"""Reciprocal rank fusion: pure, weighted, deterministic.

``score(d) = Σ_lists weight_l / (k + rank_l(d))`` with ranks from 1. A document
missing from a list gets nothing from it. Ties break on the best single rank, then
on the best rank in each group of ``ties`` lists in turn (hybrid: BM25's, then the
embedding's), then on the id, so the same inputs always give the same order.
"""

from __future__ import annotations

from collections.abc import Sequence


def rrf(
    rankings: Sequence[Sequence[str]],
    weights: Sequence[float] | None = None,
    k: int = 60,
    ties: Sequence[Sequence[int]] = (),
) -> list[tuple[str, float]]:
    """Fuse ranked id lists (best first) into one ``[(id, score)]``, best first. ``ties``:
    groups of list indices whose best rank breaks a tie, in turn, before the id does."""
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    if k < 0:
        raise ValueError("k must be >= 0")
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    lists: list[dict[str, int]] = []  # each list's rank of each document it names
    for ranking, weight in zip(rankings, weights, strict=True):
        ranks: dict[str, int] = {}
        for rank, doc in enumerate(ranking, 1):
            if doc in ranks:  # a list naming a document twice counts it once, at its best rank
                continue
            ranks[doc] = rank
            scores[doc] = scores.get(doc, 0.0) + weight / (k + rank)
            best[doc] = min(best.get(doc, rank), rank)
        lists.append(ranks)
    absent = max((len(r) for r in rankings), default=0) + 1

    def group_rank(doc: str, group: Sequence[int]) -> int:
        return min((lists[i].get(doc, absent) for i in group), default=absent)

    return sorted(
        scores.items(),
        key=lambda kv: (-kv[1], best[kv[0]], *(group_rank(kv[0], g) for g in ties), kv[0]),
    )
