"""Batched query-likelihood scoring on a tiny random Llama: batching, padding, projection."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from overlay.choosing.scoring import PROMPT, Calibration, query_logprobs, score_views

QUERY = "how many days of paid leave"
VIEWS = [
    "employees get 27 days of annual paid leave .",
    "the company was founded in 1987",
    "support",
    "what is the price of the product ? the price is 9 . the product is a support product .",
    "",
]


def _reference(tiny: Any, query: str, view: str) -> float:
    """Full-logits, unbatched, no padding: the definition of the score."""
    tok = tiny.tokenizer
    prefix = tok(PROMPT.format(text=view), add_special_tokens=False)["input_ids"]
    q = tok(" " + query, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prefix + q])
    with torch.inference_mode():
        logits = tiny.model(input_ids=ids).logits[0].float()  # (T, V)
    lp = logits.log_softmax(-1)
    return float(sum(lp[len(prefix) - 1 + i, t] for i, t in enumerate(q)) / len(q))


def test_batched_equals_one_by_one_and_reference(tiny_model: Any) -> None:
    tok = tiny_model.tokenizer
    with torch.inference_mode():
        batched = query_logprobs(tiny_model.model, tok, QUERY, VIEWS, batch_size=8)
        single = [query_logprobs(tiny_model.model, tok, QUERY, [v])[0] for v in VIEWS]
        split = query_logprobs(tiny_model.model, tok, QUERY, VIEWS, batch_size=2)
    ref = [_reference(tiny_model, QUERY, v) for v in VIEWS]
    assert batched == pytest.approx(single, abs=1e-4)
    assert split == pytest.approx(single, abs=1e-4)
    assert single == pytest.approx(ref, abs=1e-4)
    assert len({round(x, 4) for x in batched}) > 1  # views really differ


def test_left_padding_with_position_ids_matches_right(tiny_model: Any) -> None:
    tok = tiny_model.tokenizer
    with torch.inference_mode():
        right = query_logprobs(tiny_model.model, tok, QUERY, VIEWS, padding_side="right")
        left = query_logprobs(tiny_model.model, tok, QUERY, VIEWS, padding_side="left")
    assert left == pytest.approx(right, abs=1e-4)


def test_score_views_baseline_and_calibration(tiny_model: Any) -> None:
    with torch.inference_mode():
        scores = score_views(tiny_model.model, tiny_model.tokenizer, QUERY, VIEWS[:3])
    assert scores.baseline == pytest.approx(_reference(tiny_model, QUERY, ""), abs=1e-4)
    assert all(0.0 <= c <= 1.0 for c in scores.calibrated)
    cal = Calibration(scale=3.0, center=1.0)
    assert cal(1.0) == pytest.approx(0.5)
    assert cal(3.0) > 0.99 and cal(-1.0) < 0.01
    ordered = sorted(range(3), key=lambda i: scores.margins[i])
    assert sorted(range(3), key=lambda i: scores.calibrated[i]) == ordered


def test_empty_inputs(tiny_model: Any) -> None:
    tok = tiny_model.tokenizer
    assert query_logprobs(tiny_model.model, tok, QUERY, []) == []
    assert query_logprobs(tiny_model.model, tok, "", ["a"]) == [0.0]
