"""Built-in adapters: found beside the user's adapters dir; a user folder of the same name wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from memory.errors import AdapterNotFound, InvalidInput
from overlay.adapters.builtin import BUILTIN_ROOT, READER, is_builtin, list_all, root_for
from overlay.adapters.files import read_spec
from overlay.adapters.registry import AdapterRegistry
from tests.adapters_tiny import tiny_base, write_adapter


def _logits(registry: AdapterRegistry, name: str) -> torch.Tensor:
    ids = registry.base.tokenizer("who wrote it ?", return_tensors="pt")["input_ids"]
    with registry.activate(name) as model, torch.no_grad():
        return model(input_ids=ids).logits[0]  # (T, vocab)


def test_shipped_reader_is_found_without_a_user_folder(tmp_path: Path) -> None:
    user = tmp_path / "adapters"  # does not even exist yet
    assert root_for(user, READER) == BUILTIN_ROOT and is_builtin(user, READER)
    spec = read_spec(BUILTIN_ROOT, READER)
    assert spec.rank == 16 and spec.base_model == "smollm2-135m-instruct"
    card = json.loads((BUILTIN_ROOT / READER / "adapter_card.json").read_text())
    assert card["examples"] > 0 and "data_sha256" in card
    assert READER in {a.name for a in list_all(user)}


def test_memory_reads_with_its_own_shipped_reader(tmp_path: Path) -> None:
    from overlay.knobs import MemorySettings

    name = MemorySettings().reader_adapter
    user = tmp_path / "adapters"
    assert name != READER and is_builtin(user, name) and root_for(user, name) == BUILTIN_ROOT
    spec = read_spec(BUILTIN_ROOT, name)
    assert spec.rank == 16 and spec.base_model == "smollm2-135m-instruct"
    # the two readers are different weights (documents vs remembered turns)
    weights = "adapter_model.safetensors"
    assert (BUILTIN_ROOT / name / weights).read_bytes() != (
        BUILTIN_ROOT / READER / weights
    ).read_bytes()
    assert {READER, name} <= {a.name for a in list_all(user)}


def test_user_folder_of_the_same_name_wins(tmp_path: Path) -> None:
    base = tiny_base()
    user, shipped = tmp_path / "adapters", tmp_path / "builtin"
    write_adapter(shipped, "helper", base.model, seed=1)
    write_adapter(shipped, "only_builtin", base.model, seed=2)
    registry = AdapterRegistry(base, user, builtin_root=shipped)
    from_builtin = _logits(registry, "helper")
    assert registry.exists("only_builtin") and registry.exists("helper")
    # the same name in the user's dir shadows the built-in, listed once
    write_adapter(user, "helper", tiny_base().model, seed=3)
    registry2 = AdapterRegistry(tiny_base(), user, builtin_root=shipped)
    assert not torch.allclose(_logits(registry2, "helper"), from_builtin, atol=1e-4)
    names = [a.name for a in registry2.list()]
    assert names == ["helper", "only_builtin"]
    assert root_for(user, "helper", shipped) == user


def test_builtins_cannot_be_removed_and_unknown_names_fail(tmp_path: Path) -> None:
    base = tiny_base()
    user, shipped = tmp_path / "adapters", tmp_path / "builtin"
    write_adapter(shipped, "helper", base.model)
    registry = AdapterRegistry(base, user, builtin_root=shipped)
    with pytest.raises(InvalidInput, match="built in"):
        registry.remove("helper")
    assert (shipped / "helper").is_dir()
    with pytest.raises(AdapterNotFound):
        registry.load("nope")
    with pytest.raises(InvalidInput):
        root_for(user, "../helper", shipped)
