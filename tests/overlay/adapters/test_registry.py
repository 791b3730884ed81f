"""Adapter registry on a tiny random Llama: loading, validation, switching, LRU, threads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from memory.errors import AdapterNotFound, InvalidInput
from overlay.adapters.builtin import READER
from overlay.adapters.registry import AdapterRegistry
from tests.adapters_tiny import TARGETS, tiny_base, write_adapter

PROMPT = "who founded halvorsen instruments ?"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[AdapterRegistry, Path]:
    base = tiny_base()
    root = tmp_path / "adapters"
    for i, name in enumerate(["a1", "a2", "a3"]):
        write_adapter(root, name, base.model, seed=i + 1)
    return AdapterRegistry(base, root, max_loaded=2), root


def logits(registry: AdapterRegistry, name: str | None, text: str = PROMPT) -> torch.Tensor:
    ids = registry.base.tokenizer(text, return_tensors="pt")["input_ids"]
    with registry.activate(name) as model, torch.no_grad():
        return model(input_ids=ids).logits[0]  # (T, vocab)


def reference(registry: AdapterRegistry, name: str) -> torch.Tensor:
    """Logits of PEFT's own loading path on a fresh copy of the base, for comparison."""
    from peft import PeftModel

    fresh = tiny_base()
    peft = PeftModel.from_pretrained(fresh.model, str(registry.root / name))
    ids = fresh.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return peft(input_ids=ids).logits[0]


def test_activate_matches_peft_and_restores_base(setup: tuple[AdapterRegistry, Path]) -> None:
    registry, _ = setup
    base_before = logits(registry, None)
    a1 = logits(registry, "a1")
    assert not torch.allclose(a1, base_before, atol=1e-3)  # the adapter changes the output
    torch.testing.assert_close(a1, reference(registry, "a1"), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits(registry, "a2"), reference(registry, "a2"))
    # after the request the plain model (no registry) is the base again
    ids = registry.base.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        plain = registry.base.model(input_ids=ids).logits[0]
    torch.testing.assert_close(plain, base_before)
    assert registry.active is None


def test_list_reports_folders(setup: tuple[AdapterRegistry, Path]) -> None:
    registry, root = setup
    (root / "broken").mkdir()
    (root / "broken" / "adapter_config.json").write_text("{not json")
    registry.load("a1")
    rows = {r.name: r for r in registry.list()}
    builtins = {READER, "reader-strict", "memory-reader"}
    assert set(rows) == {"a1", "a2", "a3", "broken", *builtins}  # the built-ins too
    assert rows["a1"].loaded and not rows["a2"].loaded
    assert rows["a1"].rank == 4 and rows["a1"].target_modules == sorted(TARGETS)
    assert rows["a1"].base_model == "tiny-llama" and rows["a1"].size_bytes > 1000
    assert rows["broken"].error and "adapter_model.safetensors" in rows["broken"].error


def test_lru_keeps_at_most_k(setup: tuple[AdapterRegistry, Path]) -> None:
    registry, _ = setup
    expected = {n: logits(registry, n) for n in ("a1", "a2")}
    registry.load("a1")  # a1 becomes most recently used
    logits(registry, "a3")
    assert registry.loaded == ["a1", "a3"]
    torch.testing.assert_close(logits(registry, "a2"), expected["a2"])  # reloaded from disk
    assert registry.loaded == ["a3", "a2"]
    assert registry.unload("a2") and not registry.unload("a2")
    torch.testing.assert_close(logits(registry, "a1"), expected["a1"])


@pytest.mark.parametrize("name", ["../a1", "a1/../a2", "/etc", "..", ".hidden", "a b", ""])
def test_names_must_be_plain_folders(setup: tuple[AdapterRegistry, Path], name: str) -> None:
    registry, _ = setup
    with pytest.raises(InvalidInput, match="invalid adapter name"):
        with registry.activate(name):
            pass


def test_unknown_adapter_never_falls_back(setup: tuple[AdapterRegistry, Path]) -> None:
    registry, root = setup
    with pytest.raises(AdapterNotFound, match="nope") as missing:
        with registry.activate("nope"):
            raise AssertionError("must not run")
    assert registry.active is None
    assert str(root) not in missing.value.message  # it reaches HTTP: no server paths


HOSTILE = {
    "megatron": ({"megatron_config": {"x": 1}}, "unsupported field megatron_config"),
    "regex": ({"target_modules": ".*(a+)+$"}, "regular-expression"),
    "rank": ({"r": 10**9}, "r must be an integer"),
    "type": ({"peft_type": "IA3"}, "not LORA"),
    "dora": ({"use_dora": True}, "unsupported field use_dora"),
    "save": ({"modules_to_save": ["lm_head"]}, "unsupported field modules_to_save"),
    "target": ({"target_modules": ["nonexistent_proj"]}, "not in the base"),
    "base": ({"base_model_name_or_path": "meta-llama/Llama-3-70B"}, "made for base model"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_configs_rejected(setup: tuple[AdapterRegistry, Path], case: str) -> None:
    registry, root = setup
    patch, message = HOSTILE[case]
    cfg_path = root / "a1" / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(json.dumps({**cfg, **patch}))
    with pytest.raises(InvalidInput, match=message):
        registry.load("a1")
    assert registry.loaded == []


def test_bad_files_rejected(setup: tuple[AdapterRegistry, Path], tmp_path: Path) -> None:
    registry, root = setup
    (root / "a1" / "adapter_config.json").write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="JSON object") as bad:
        registry.load("a1")
    assert "a1/adapter_config.json" in bad.value.message and str(root) not in bad.value.message
    weights = root / "a2" / "adapter_model.safetensors"
    weights.rename(root / "a2" / "adapter_model.bin")
    with pytest.raises(InvalidInput, match="pickled weights are refused"):
        registry.load("a2")
    (root / "a3" / "adapter_model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(InvalidInput, match="unreadable"):
        registry.load("a3")


def test_shape_mismatch_rejected(tmp_path: Path) -> None:
    from tests.adapters_tiny import tiny_model

    base = tiny_base()
    other = tiny_model(len(base.tokenizer), hidden=48)
    write_adapter(tmp_path, "wide", other)
    registry = AdapterRegistry(base, tmp_path)
    with pytest.raises(InvalidInput, match="shape"):
        registry.load("wide")
    assert registry.loaded == [] and registry.active is None


def test_concurrent_requests_match_sequential(setup: tuple[AdapterRegistry, Path]) -> None:
    registry, _ = setup
    registry.max_loaded = 3
    prompts = [PROMPT, "how many days of paid annual leave ?", "what is the capital of peru ?"]
    jobs = [(n, p) for n in (None, "a1", "a2", "a3") for p in prompts]
    expected = {job: logits(registry, *job) for job in jobs}
    results: dict[tuple[str | None, str], list[torch.Tensor]] = {job: [] for job in jobs}
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for i in range(len(jobs) * 2):
                job = jobs[(i + offset) % len(jobs)]
                results[job].append(logits(registry, *job))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k * 5,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for job, outs in results.items():
        assert len(outs) == 8
        for out in outs:
            assert torch.equal(out, expected[job]), job


def test_mixed_batch_matches_single(setup: tuple[AdapterRegistry, Path]) -> None:
    registry, _ = setup
    names: list[str | None] = ["a1", None, "a2", "a1"]
    tok = registry.base.tokenizer
    ids = tok([PROMPT] * 4, return_tensors="pt")["input_ids"]
    with registry.activate_mixed(names) as (peft, rows), torch.no_grad():
        mixed = peft(input_ids=ids, adapter_names=rows).logits  # (4, T, vocab)
    for i, name in enumerate(names):
        torch.testing.assert_close(mixed[i], logits(registry, name), atol=1e-5, rtol=1e-5)
    assert registry.active is None


def test_different_target_sets_and_close(tmp_path: Path) -> None:
    base = tiny_base()
    write_adapter(tmp_path, "q_only", base.model, seed=7, targets=["q_proj"])
    write_adapter(tmp_path, "full", base.model, seed=8)
    registry = AdapterRegistry(base, tmp_path)
    plain = logits(registry, None)
    # q_only first (PEFT wraps q_proj), then full needs more layers (PEFT path again),
    # then q_only again after unloading (fast path into existing layers)
    q_only, full = logits(registry, "q_only"), logits(registry, "full")
    torch.testing.assert_close(q_only, reference(registry, "q_only"))
    torch.testing.assert_close(full, reference(registry, "full"))
    registry.unload("q_only")
    torch.testing.assert_close(logits(registry, "q_only"), q_only)
    torch.testing.assert_close(logits(registry, None), plain)
    registry.close()
    assert registry.loaded == [] and not any("lora" in n for n, _ in base.model.named_modules())
    torch.testing.assert_close(logits(registry, "full"), full)  # usable again after close


def test_model_for_uses_the_process_registry(tmp_path: Path) -> None:
    from overlay.services import Services
    from overlay.settings import Settings

    base = tiny_base()
    write_adapter(tmp_path / "adapters", "a1", base.model, seed=2)
    svc = Services(Settings(data_dir=tmp_path, max_loaded_adapters=3))
    svc.use_model(base)
    registry = svc.adapters
    assert svc.for_tenant("other").adapters is registry and registry.max_loaded == 3
    ids = base.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    with svc.run_model("a1") as model:
        assert registry.active == "a1"
        with_adapter = model(input_ids=ids).logits
    with svc.run_model(None) as model:
        assert registry.active is None
        plain = model(input_ids=ids).logits
    assert not torch.allclose(with_adapter, plain, atol=1e-3)
    torch.testing.assert_close(with_adapter[0], logits(registry, "a1"))
    with pytest.raises(AdapterNotFound):
        with svc.run_model("missing"):
            pass


def test_symlink_out_of_adapters_dir_refused(tmp_path: Path) -> None:
    base = tiny_base()
    write_adapter(tmp_path / "elsewhere", "real", base.model)
    root = tmp_path / "adapters"
    root.mkdir()
    (root / "sneaky").symlink_to(tmp_path / "elsewhere" / "real")
    with pytest.raises(InvalidInput, match="outside the adapters dir"):
        AdapterRegistry(base, root).load("sneaky")
