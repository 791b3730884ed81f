"""The numeric path: chosen from the CPU's flags (and a probe), overridable, shown by
``models info``; torch threads derived from cores and model workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from overlay.choosing.scoring import score_views
from overlay.model.base import load_base_model, model_info, torch_threads
from overlay.model.numeric import NumericPath, autocast, choose_path, path_of, set_path
from overlay.settings import Settings


def test_path_follows_flags_and_overrides() -> None:
    plain = choose_path("auto", "cpu", {"avx2", "fma"})
    assert (plain.scoring, plain.prefill, plain.decode) == ("fp32", "fp32", "fp32")
    assert "no native bf16" in plain.reason and plain.flags == ("avx2",)
    assert choose_path("bf16", "cpu", {"avx2"}).scoring == "bf16"  # the user asked for it
    forced = choose_path("fp32", "cpu", {"avx512_bf16", "amx_bf16"})
    assert forced.scoring == "fp32" and forced.reason == "OVERLAY_DTYPE=fp32"
    assert choose_path("auto", "cuda", {"avx512_bf16"}).scoring == "fp32"
    native = choose_path("auto", "cpu", {"avx512f", "avx512_bf16"})
    assert native.decode == "fp32" and native.prefill == "fp32"  # text must not change
    assert native.scoring in ("bf16", "fp32") and "probe" in native.reason


def test_settings_reject_unknown_dtype() -> None:
    with pytest.raises(ValueError):
        Settings(dtype="int8")  # type: ignore[arg-type]


def test_threads_are_derived_from_cores_and_workers() -> None:
    assert torch_threads(Settings(torch_threads=3)) == 3
    import os

    cores = len(os.sched_getaffinity(0))
    assert torch_threads(Settings(model_workers=16)) == max(1, (cores - 1) // 16)
    assert torch_threads(Settings(model_workers=1)) == max(1, cores - 1)


def test_loaded_model_records_and_shows_its_path(tiny_model: Any, tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    tiny_model.model.save_pretrained(str(folder), safe_serialization=True)
    tiny_model.tokenizer.save_pretrained(str(folder))
    before = torch.get_num_threads()
    try:
        bm = load_base_model(Settings(data_dir=tmp_path, model=str(folder), dtype="fp32",
                                      torch_threads=1))  # fmt: skip
        info = model_info(bm)
        assert info["numeric_path"]["scoring"] == "fp32" and info["torch_threads"] == 1
        assert path_of(bm.model) == bm.numeric
        set_path(bm.model, NumericPath(scoring="bf16"))
        with torch.inference_mode(), autocast(bm.model, "scoring"):
            assert torch.is_autocast_cpu_enabled()
        with autocast(bm.model, "decode"):
            assert not torch.is_autocast_cpu_enabled()
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_bf16_scoring_keeps_the_ranking_on_the_real_model(real_model: Any) -> None:
    views = [
        "Employees get 25 days of paid annual leave each calendar year.",
        "Halvorsen Instruments was founded in 1987 in Bergen.",
        "Support answers email within one working day.",
        "The Lumen L-2 sensor was released in 2019 and costs 499 euros.",
        "Unused leave days carry over until the end of March.",
        "The cafeteria is open from 8 to 15 on weekdays.",
    ]
    q = "How many days of paid leave do employees get?"
    model, tok = real_model.model, real_model.tokenizer
    saved = path_of(model)
    try:
        set_path(model, NumericPath())
        with torch.inference_mode():
            fp32 = score_views(model, tok, q, views).logprobs
        set_path(model, NumericPath(scoring="bf16"))
        with torch.inference_mode():
            bf16 = score_views(model, tok, q, views).logprobs
    finally:
        set_path(model, saved)
    assert max(range(6), key=fp32.__getitem__) == max(range(6), key=bf16.__getitem__)
    order = sorted(range(6), key=fp32.__getitem__)
    assert sorted(range(6), key=bf16.__getitem__)[-3:] == order[-3:]
    assert max(abs(a - b) for a, b in zip(fp32, bf16, strict=True)) < 0.15
