"""Sentence fusion and its calibration as pure functions."""

from __future__ import annotations

from overlay.choosing.sentences import (
    SentenceCandidate,
    SentenceWeights,
    calibrate,
    rank_sentences,
    sentence_candidates,
)


def test_candidates_carry_their_passages_signals() -> None:
    per = sentence_candidates(
        "When was the L-2 released?",
        [("The L-2 is a logger. It was released in March 2019.", 0.8, 2), ("Other text.", 0.4, 0)],
    )
    (sents, cands), (_, other) = per
    assert sents == ["The L-2 is a logger.", "It was released in March 2019."]
    assert [c.index for c in cands] == [0, 1] and cands[0].passage == 0 and other[0].passage == 1
    assert cands[1].answer > cands[0].answer  # holds a date for a *when* question
    assert cands[0].passage_score == 0.8 and cands[0].rank_prior == 1 / 3
    assert other[0].rank_prior == 1.0


def _cand(p: int, answer: float, passage: float, prior: float) -> SentenceCandidate:
    return SentenceCandidate(p, 0, f"s{p}", answer, passage, prior)


def test_rank_sentences_weights_each_signal() -> None:
    a, b = _cand(0, 0.5, 0.9, 1.0), _cand(1, 1.0, 0.1, 0.5)
    assert rank_sentences([a, b], SentenceWeights(1, 0, 0))[0] is b
    assert rank_sentences([a, b], SentenceWeights(1, 1, 0))[0] is a
    assert rank_sentences([a, b], SentenceWeights(1, 0, 2))[0] is a
    tie = [_cand(1, 1, 0, 0), _cand(0, 1, 0, 0)]
    assert rank_sentences(tie, SentenceWeights(1, 0, 0))[0].passage == 0  # earlier passage


def test_calibrate_finds_weights_that_put_gold_first() -> None:
    # answer cues mislead in these examples; the retriever's rank knows better
    examples = []
    for _ in range(5):
        gold_first, decoy = _cand(0, 0.5, 0.5, 1.0), _cand(1, 0.9, 0.5, 0.5)
        examples.append(([gold_first, decoy], [True, False]))
    w, hit = calibrate(examples)
    assert hit == 1.0 and w.rank > 0
    assert calibrate([([decoy := _cand(0, 1, 0, 1)], [False])])[1] == 0.0 and decoy.score >= 0
    none, rate = calibrate([])
    assert rate == 0.0 and none == SentenceWeights()
