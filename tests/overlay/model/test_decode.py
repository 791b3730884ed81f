"""The lean decode loop: the same greedy tokens as transformers' ``generate``, streamed
text that adds up, stop strings, prefix reuse keyed by adapter, and the fallback path."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from overlay.adapters.registry import AdapterRegistry
from overlay.answering.reading import READER_DECODING, reader_prompt
from overlay.model.base import gemv_layout
from overlay.model.decode import Decoding, decode
from overlay.model.kernels import gemv
from overlay.model.prefix import PREFIXES, prefix_cache_stats
from overlay.model.runner import HFRunner, LeanRunner, make_runner
from overlay.services import Services
from tests.adapters_tiny import tiny_base, write_adapter

HEAD = "system the company is halvorsen instruments . answer from the passage . " * 3


def _generate(model: Any, ids: list[int], n: int, eos: int | None) -> list[int]:
    """transformers' greedy ``generate``, multiplying with torch only (the reference)."""
    with torch.inference_mode(), gemv.disabled():
        out = model.generate(
            torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=n, do_sample=False, repetition_penalty=1.1, pad_token_id=0,
        )  # fmt: skip
    return [t for t in out[0, len(ids) :].tolist() if t != eos]


def _ids(tok: Any, text: str) -> list[int]:
    return list(tok(text, add_special_tokens=False)["input_ids"])


@pytest.fixture
def fresh_prefixes() -> Any:
    PREFIXES.clear()
    yield PREFIXES
    PREFIXES.clear()


@pytest.mark.parametrize("layout", ["loaded", "gemv", "kernel"])
def test_greedy_tokens_match_generate_on_tiny_llama(
    layout: str, fresh_prefixes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bm = tiny_base(seed=3)
    if layout == "gemv":
        gemv_layout(bm.model)
        assert not bm.model.model.layers[0].self_attn.q_proj.weight.is_contiguous()
    if layout == "kernel":  # Overlay's compiled kernels (overlay.model.kernels.gemv, .cstep)
        monkeypatch.setattr(torch, "get_num_threads", lambda: 1)  # they run on one thread
        fn = gemv.kernel(tmp_path)
        if fn is None:
            pytest.skip("no C compiler here")
        assert gemv.install(bm.model, fn) > 0
        runner = make_runner(bm.model, 8)
        assert isinstance(runner, LeanRunner) and runner.compiled is not None  # the C step
    assert isinstance(make_runner(bm.model, 8), LeanRunner)
    for question in ("how many days of paid leave", "who founded the company", "when"):
        ids = _ids(bm.tokenizer, HEAD + question + " ?")
        got = decode(bm.model, bm.tokenizer, ids, Decoding(max_new_tokens=24))
        assert got.token_ids == _generate(bm.model, ids, 24, bm.tokenizer.eos_token_id)
        assert got.prompt_tokens == len(ids) and got.first_token_s is not None
    # the three prompts share HEAD: the second keeps it, the third reuses it
    assert fresh_prefixes.stats.hits >= 1 and fresh_prefixes.stats.reused_tokens >= 16
    assert prefix_cache_stats()["hit_rate"] > 0


def test_streamed_text_adds_up_and_stop_strings_cut(fresh_prefixes: Any) -> None:
    bm = tiny_base(seed=5)
    ids = _ids(bm.tokenizer, "user tell me about the company")
    pieces: list[str] = []
    full = decode(bm.model, bm.tokenizer, ids, Decoding(max_new_tokens=20), pieces.append)
    assert full.token_ids and "".join(pieces).strip() == full.text
    assert full.text == bm.tokenizer.decode(full.token_ids, skip_special_tokens=True).strip()
    stop = full.text.split()[2]
    cut = decode(bm.model, bm.tokenizer, ids, Decoding(max_new_tokens=20, stop=(stop,)))
    assert cut.finish_reason == "stop" and stop not in cut.text
    assert full.text.startswith(cut.text)


def test_prefix_states_are_not_shared_across_adapters(tmp_path: Path, fresh_prefixes: Any) -> None:
    bm = tiny_base(seed=7)
    write_adapter(tmp_path, "terse", bm.model, seed=2)
    reg = AdapterRegistry(bm, tmp_path)
    ids = [_ids(bm.tokenizer, HEAD + q) for q in ("who ?", "when ?", "why ?")]
    with reg.activate(None) as model:
        base = [decode(model, bm.tokenizer, i, Decoding(max_new_tokens=12)) for i in ids[:2]]
    assert base[1].reused_tokens == 0 and fresh_prefixes.stats.entries == 1
    with reg.activate("terse") as model:
        worn = decode(model, bm.tokenizer, ids[2], Decoding(max_new_tokens=12))
        expected = _generate(model, ids[2], 12, bm.tokenizer.eos_token_id)
    assert worn.reused_tokens == 0  # the base's prefix states are not the adapter's
    assert worn.token_ids == expected
    with reg.activate(None) as model:
        again = decode(model, bm.tokenizer, ids[2], Decoding(max_new_tokens=12))
        assert again.token_ids == _generate(model, ids[2], 12, bm.tokenizer.eos_token_id)
    assert again.reused_tokens > 0


def test_other_architectures_decode_through_transformers() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=120, n_embd=32, n_layer=2, n_head=2)).eval()
    bm = tiny_base()
    assert isinstance(make_runner(model, 8), HFRunner)
    ids = [5, 9, 17, 33, 2, 8]
    got = decode(model, bm.tokenizer, ids, Decoding(max_new_tokens=10))
    assert got.token_ids == _generate(model, ids, 10, bm.tokenizer.eos_token_id)


@pytest.mark.slow
def test_greedy_tokens_match_generate_on_the_real_model(real_model: Any) -> None:
    """Overlay's decode path (the compiled kernel where a C compiler is present) against
    transformers' ``generate`` multiplying with torch."""
    if shutil.which("cc") or shutil.which("gcc"):
        assert real_model.gemv.startswith("overlay")
        runner = make_runner(real_model.model, 8)
        assert isinstance(runner, LeanRunner) and runner.compiled is not None  # the C step
    tok = real_model.tokenizer
    system = "You answer questions from the numbered passages and cite them like [1]."
    passages = (
        "[1] Employees get 25 days of paid annual leave per calendar year. "
        "[2] Halvorsen Instruments was founded in 1987 in Bergen by Ingrid Halvorsen."
    )
    for question in ("How many days of paid leave do employees get?", "Who founded it?"):
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"},
        ]
        ids = list(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                           return_dict=True)["input_ids"])  # fmt: skip
        got = decode(real_model.model, tok, ids, Decoding(max_new_tokens=40))
        assert got.token_ids == _generate(real_model.model, ids, 40, tok.eos_token_id)
        assert got.text


def test_the_reader_adapter_steps_in_c_with_torchs_tokens(base_services: Services) -> None:
    """The built-in reader worn on the real model: the compiled step (adding its B·A to every
    linear) gives torch's step's tokens and log-prob."""
    tok = base_services.model.tokenizer
    passage = "Halvorsen Instruments was founded in 1987 in Bergen by Ingrid Halvorsen."
    ids = reader_prompt(tok, "Who founded Halvorsen Instruments?", passage)
    with base_services.run_model("reader") as model:
        if base_services.model.gemv.startswith("overlay"):
            assert make_runner(model, 8).compiled is not None
        got = decode(model, tok, ids, READER_DECODING)
        with gemv.disabled():
            ref = decode(model, tok, ids, READER_DECODING)
    assert got.token_ids == ref.token_ids and "Halvorsen" in got.text
    assert got.logprob == pytest.approx(ref.logprob, abs=1e-3)


def test_logprob_is_the_picked_tokens_log_probability(fresh_prefixes: Any) -> None:
    """``Decoded.logprob`` (the reader's confidence) equals the teacher-forced sum of the
    picked tokens' log-probs under the same repetition-free greedy decode."""
    bm = tiny_base(seed=3)
    ids = _ids(bm.tokenizer, HEAD + "who founded the company ?")
    got = decode(bm.model, bm.tokenizer, ids, Decoding(max_new_tokens=6, repetition_penalty=1.0))
    assert got.token_ids and got.logprob < 0
    seq = ids + got.token_ids
    with torch.inference_mode():
        logits = bm.model(torch.tensor([seq])).logits[0].float().log_softmax(-1)
    picked = [logits[len(ids) - 1 + i, t] for i, t in enumerate(got.token_ids)]
    if got.finish_reason == "stop":  # the end token was picked too
        picked.append(logits[-1, bm.tokenizer.eos_token_id])
    assert got.logprob == pytest.approx(float(sum(picked)), abs=1e-3)


def test_the_compiled_step_serves_the_base_and_a_worn_adapter(
    tmp_path: Path, fresh_prefixes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an adapter loaded, a base request steps in C (its LoRA layers wear nothing) and
    so does a request wearing the adapter (the step adds its B·A); both give generate's
    tokens, and the worn one differs from the base's."""
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    bm = tiny_base(seed=7)
    fn = gemv.kernel(tmp_path / "kernels")
    if fn is None:
        pytest.skip("no C compiler here")
    gemv.install(bm.model, fn)
    write_adapter(tmp_path, "terse", bm.model, seed=2)
    reg = AdapterRegistry(bm, tmp_path)
    ids = _ids(bm.tokenizer, HEAD + "who founded it ?")
    eos = bm.tokenizer.eos_token_id
    with reg.activate("terse") as model:
        assert make_runner(model, 8).compiled is not None
        worn = decode(model, bm.tokenizer, ids, Decoding(max_new_tokens=12))
        assert worn.token_ids == _generate(model, ids, 12, eos)
    with reg.activate(None) as model:
        assert make_runner(model, 8).compiled is not None
        base = decode(model, bm.tokenizer, ids, Decoding(max_new_tokens=12))
        assert base.token_ids == _generate(model, ids, 12, eos)
    assert base.token_ids != worn.token_ids  # the adapter changes the answer
