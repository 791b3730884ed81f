"""The span reader's pure parts: best spans, token alignment, widening, citation order."""

from __future__ import annotations

import math

import torch

from memory.types import Hit
from overlay.answering.answers import Draft
from overlay.answering.reading import lead_citation, read_answer
from overlay.choosing.chooser import span_scores
from overlay.choosing.fusion import ReadSpan, choose
from overlay.choosing.span_head import (
    HeadConfig,
    SpanHead,
    best_spans,
    load_head,
    passage_tokens,
    save_head,
    token_span,
)
from overlay.choosing.span_read import BUILTIN_READER, answer_text, load_reader
from overlay.knobs import AnswerSettings

NEG = float("-inf")


def test_best_span_respects_order_and_length_and_reports_null() -> None:
    # index 0 is NULL; passage tokens 1..4
    start = torch.tensor([[0.5, -20.0, 3.0, 0.0, 0.0]])
    end = torch.tensor([[0.5, 9.0, 0.0, 0.0, 2.0]])  # the best end (1) lies before the start
    (g,) = best_spans(start, end, max_tokens=8)
    assert (g.start, g.end) == (1, 3)  # passage tokens 2..4 → indices 1..3
    assert math.isclose(g.score, 5.0) and math.isclose(g.null, 1.0)
    assert math.isclose(g.margin, 4.0)
    (short,) = best_spans(start, end, max_tokens=2)  # 1..3 is three tokens: too long
    assert short.end - short.start < 2


def test_best_span_ignores_padding_and_handles_an_empty_passage() -> None:
    start = torch.tensor([[0.0, 1.0, NEG], [2.0, NEG, NEG]])
    end = torch.tensor([[0.0, 1.0, NEG], [1.0, NEG, NEG]])
    one, empty = best_spans(start, end, max_tokens=4)
    assert (one.start, one.end) == (0, 0)
    assert empty.start == -1 and empty.score == NEG and empty.null == 3.0


def test_passage_tokens_and_token_span_map_characters() -> None:
    prompt = "Passage: The cat sat.\nA question"
    offsets = [(0, 7), (7, 8), (8, 12), (12, 16), (16, 20), (20, 21), (21, 22), (22, 23)]
    first, last, chars = passage_tokens(offsets, len("Passage: "), len("The cat sat."))
    assert (first, last) == (2, 6)
    assert chars == [(0, 3), (3, 7), (7, 11), (11, 12)]
    assert prompt[9:21] == "The cat sat."
    assert token_span(chars, 4, 7) == (1, 1)  # "cat"
    assert token_span(chars, 4, 11) == (1, 2)  # "cat sat"
    assert token_span(chars, 40, 41) is None


def test_answer_text_is_the_tidied_span_and_its_sentence() -> None:
    view = "The desk answers by phone on weekdays. Email is answered within two days."
    a = view.index("by phone")
    text, sentence = answer_text(view, a, a + len("by phone"))
    assert text == "by phone" and sentence == "The desk answers by phone on weekdays."
    b = view.index("Email")
    text, sentence = answer_text(view, b, len(view))
    assert text == "Email is answered within two days" and sentence == view[b:]


def _hits(n: int) -> list[Hit]:
    return [Hit(id=f"h{i}", text=f"passage {i}", source=f"s{i}", score=1.0) for i in range(n)]


def test_read_answer_cites_the_candidate_it_read_as_one() -> None:
    hits = _hits(3)
    choice = choose(hits, [0.9, 0.8, 0.7], threshold=0.5, top_n=3)
    choice.reads = {"h1": ReadSpan("forty", "It weighs forty.", 3.0, 0.9)}
    draft = lead_citation(choice, read_answer(choice))
    assert draft.text == "forty [1]" and draft.cited == [1] and draft.kind == "span"
    assert choice.chosen[0].hit.id == "h1"  # the citation shown first is the one read


def test_lead_citation_renumbers_a_single_marker() -> None:
    choice = choose(_hits(3), [0.9, 0.8, 0.7], threshold=0.5, top_n=3)
    draft = lead_citation(choice, Draft("you may not [3]", [3], 3, "span"))
    assert draft.text == "you may not [1]" and draft.cited == [1]
    assert choice.chosen[0].hit.id == "h2"


def test_a_saved_head_loads_with_the_same_outputs(tmp_path) -> None:
    torch.manual_seed(0)
    head = SpanHead(HeadConfig(hidden=8, dim=16, heads=2, depth=1)).eval()
    save_head(head, tmp_path / "h", {"calibration": {"scale": 1, "center": 0}})
    again, meta = load_head(tmp_path / "h")
    p, q = torch.randn(2, 5, 4, 8), torch.randn(2, 3, 4, 8)
    pm, qm = torch.ones(2, 5, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool)
    with torch.no_grad():
        assert torch.allclose(head(p, pm, q, qm)[0], again(p, pm, q, qm)[0])
    assert meta["calibration"] == {"scale": 1, "center": 0}


def test_the_builtin_reader_loads_and_knows_its_base_model() -> None:
    reader = load_reader(BUILTIN_READER)
    assert reader.base["hidden_size"] == reader.head.config.hidden
    assert not reader.fits(type("Tiny", (), {"hidden_size": 16})())
    assert 0.0 < reader.evidence(reader.calibration.center) < 1.0


def test_citations_returned_match_every_marker() -> None:
    from overlay.turn import cited_passages

    choice = choose(_hits(3), [0.9, 0.8, 0.7], threshold=0.5, top_n=3)
    ordered = cited_passages(choice, Draft("a [1] b [2]", [1, 2], 3))
    assert [c.hit.id for c in ordered] == ["h0", "h1"]
    skipping = cited_passages(choice, Draft("a [2]", [2], 3, "generated"))
    assert [c.hit.id for c in skipping] == ["h0", "h1"]  # [2] is the second shown
    assert cited_passages(choice, Draft("I don't know", [], 3)) == []


def test_span_scores_mix_likelihood_span_evidence_and_dense_similarity() -> None:
    hits = [Hit("a", "x", 0.1, metadata={"dense_score": 0.8}), Hit("b", "y", 0.1)]  # b: sparse
    spans = [ReadSpan("x", "x", 1.0, 0.5), None]
    old = span_scores(AnswerSettings(span_weight=0.2, dense_weight=0.0), [0.4, 0.9], spans, hits)
    assert [round(v, 6) for v in old] == [0.42, 0.72]  # 0.8 · likelihood + 0.2 · evidence
    mixed = span_scores(AnswerSettings(span_weight=0.2, dense_weight=0.5), [0.4, 0.9], spans, hits)
    assert [round(v, 6) for v in mixed] == [0.62, 0.27]  # + 0.5 · similarity, 0.3 likelihood
    assert span_scores(AnswerSettings(span_weight=0.8, dense_weight=0.8), [1.0], spans[:1],
                       hits[:1]) == [0.8 * 0.5 + 0.8 * 0.8]  # fmt: skip  # no negative share
