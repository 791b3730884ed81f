"""The compiled one-row decode kernel: the same products as torch, taken only where it
applies (one fp32 row, no autograd, no autocast, one thread), rebound on copies."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from overlay.model.kernels import gemv
from overlay.settings import Settings


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Any:
    fn = gemv.kernel(tmp_path_factory.mktemp("kernels"))
    if fn is None:
        pytest.skip("no C compiler here")
    return fn


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel serves one torch thread (MKL splits rows over more)."""
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)


def _linear(out: int, inp: int, bias: bool, kernel: Any) -> torch.nn.Linear:
    torch.manual_seed(out * 1000 + inp)
    layer = torch.nn.Linear(inp, out, bias=bias).eval()
    gemv.install(layer, kernel)
    return layer


SHAPES = [(1536, 576, False), (576, 1536, True), (7, 13, True), (3, 5, False)]


@pytest.mark.parametrize(("out", "inp", "bias"), SHAPES)
def test_one_row_products_equal_torch(kernel: Any, out: int, inp: int, bias: bool) -> None:
    layer = _linear(out, inp, bias, kernel)
    x = torch.randn(1, 1, inp)
    calls: list[Any] = []

    def counting(*args: Any) -> None:
        calls.append(args)
        kernel(*args)

    gemv.install(layer, counting)
    with torch.inference_mode():
        got = layer(x)
        assert len(calls) == 1  # the kernel made it
        want = F.linear(x, layer.weight, layer.bias)
        with gemv.disabled():
            assert torch.equal(layer(x), want)  # switched off: torch itself
    assert got.shape == want.shape == (1, 1, out)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert not torch.equal(got, torch.zeros_like(got))


def test_other_calls_take_torch(kernel: Any) -> None:
    layer = _linear(64, 32, True, kernel)
    calls = []
    real = kernel

    def counting(*args: Any) -> None:
        calls.append(args)
        real(*args)

    gemv.install(layer, counting)
    with torch.inference_mode():
        layer(torch.randn(1, 32))
        assert len(calls) == 1  # one row: the kernel
        layer(torch.randn(4, 32))  # a block of rows (prefill, scoring): torch
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert layer(torch.randn(1, 32)).dtype == torch.bfloat16  # autocast: torch's bf16
    x = torch.randn(1, 32, requires_grad=True)
    layer(x).sum().backward()  # autograd: torch, and gradients flow
    assert x.grad is not None and len(calls) == 1


def test_copies_multiply_with_their_own_weights(kernel: Any) -> None:
    layer = _linear(16, 8, False, kernel)
    clone = copy.deepcopy(layer)
    with torch.no_grad():
        clone.weight.mul_(2.0)
    x = torch.randn(1, 8)
    with torch.inference_mode():
        torch.testing.assert_close(clone(x), 2 * layer(x), rtol=1e-5, atol=1e-5)


def test_switched_off_by_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OVERLAY_DECODE_KERNEL", "torch")
    assert Settings().decode_kernel == "torch"
    assert gemv.kernel(tmp_path, Settings().decode_kernel) is None
    assert not list(tmp_path.iterdir())  # nothing built


def test_an_unwritable_cache_or_a_broken_compiler_falls_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert gemv.kernel(blocked / "kernels") is None  # cannot create the cache folder
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    assert gemv.kernel(tmp_path / "kernels2") is None


def test_loading_the_kernel_leaves_subnormal_numbers_alone(kernel: Any) -> None:
    """A library built with -ffast-math switches the whole process to flush subnormals to
    zero when it loads (GCC's crtfastmath.o); ours must not touch the process's FP state."""
    import array

    tiny = array.array("d", [float.fromhex("0x1p-1030")])[0]
    assert tiny * 0.5 > 0.0  # still a subnormal, not flushed to zero
    assert torch.tensor([1e-40], dtype=torch.float32).item() > 0.0
