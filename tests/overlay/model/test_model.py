"""Loading the frozen base model: sources, refusals, freezing, ``models info``."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from memory.errors import InvalidInput, NotFound
from overlay.model.base import load_base_model, model_info
from overlay.services import Services
from overlay.settings import Settings


def _save_tiny(tiny_model: Any, folder: Path) -> Path:
    tiny_model.model.save_pretrained(str(folder), safe_serialization=True)
    tiny_model.tokenizer.save_pretrained(str(folder))
    return folder


def test_loads_local_folder_frozen(tiny_model: Any, tmp_path: Path) -> None:
    folder = _save_tiny(tiny_model, tmp_path / "tiny")
    bm = load_base_model(Settings(data_dir=tmp_path, model=str(folder)))
    assert not bm.model.training
    assert all(not p.requires_grad for p in bm.model.parameters())
    ids = torch.tensor([[2, 10, 11, 12]])
    with torch.inference_mode():
        a = bm.model(input_ids=ids).logits
        b = tiny_model.model(input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-6)
    info = model_info(bm)
    assert info["frozen"] is True and info["dtype"] == "float32" and info["device"] == "cpu"
    named = list(tiny_model.model.named_parameters())
    assert info["parameters"] == sum(p.numel() for n, p in named if "lora_" not in n)
    assert info["adapter_parameters"] == sum(p.numel() for n, p in named if "lora_" in n)


def test_refuses_pickle_weights_and_missing_sources(tiny_model: Any, tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    tiny_model.model.config.save_pretrained(str(folder))
    torch.save(tiny_model.model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(InvalidInput, match="pickle"):
        load_base_model(Settings(data_dir=tmp_path, model=str(folder)))
    with pytest.raises(InvalidInput, match="pickle"):
        load_base_model(Settings(data_dir=tmp_path, model=str(tmp_path / "w.bin")))
    with pytest.raises(NotFound):
        load_base_model(Settings(data_dir=tmp_path, model=str(tmp_path / "absent.gguf")))
    with pytest.raises(NotFound, match="not found locally"):
        load_base_model(Settings(data_dir=tmp_path, model="nobody/no-such-model-xyz"))


def test_cuda_requested_but_absent_fails_loudly(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    with pytest.raises(InvalidInput, match="CUDA"):
        load_base_model(Settings(data_dir=tmp_path, device="cuda"))


def test_model_for_base_holds_lock_and_disables_grad(tiny_model: Any, services: Services) -> None:
    svc = Services(services.settings, services.redis, services.chroma, tenant=services.tenant)
    svc.use_model(tiny_model)
    assert svc.model is tiny_model
    with svc.run_model(None) as model:
        assert model is tiny_model.model
        assert torch.is_inference_mode_enabled()
        acquired_elsewhere: list[bool] = []
        t = threading.Thread(target=lambda: acquired_elsewhere.append(tiny_model.lock.acquire(0)))
        t.start()
        t.join()
        assert acquired_elsewhere == [False]


@pytest.mark.slow
def test_real_default_model_is_frozen_smollm2(real_model: Any) -> None:
    info = model_info(real_model)
    assert info["name"] == "smollm2-135m-instruct"
    assert 130e6 < info["parameters"] < 140e6
    assert info["frozen"] and info["dtype"] == "float32"
    template = real_model.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert "<|im_start|>assistant" in template


@pytest.mark.slow
def test_models_info_cli(real_model: Any, base_services: Services, tmp_path: Path) -> None:
    from overlay.cli import _register, app

    _register()
    models = base_services.settings.models_path
    env = {"OVERLAY_MODELS_DIR": str(models), "OVERLAY_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["models", "info", "--json"], env=env)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["name"] == "smollm2-135m-instruct" and info["load_seconds"] < 10


def test_model_for_unknown_adapter_fails_loudly(tiny_model: Any, tmp_path: Path) -> None:
    from memory.errors import AdapterNotFound

    svc = Services(Settings(data_dir=tmp_path))
    svc.use_model(tiny_model)
    with pytest.raises(AdapterNotFound), svc.run_model("no-such-adapter"):
        pass


@pytest.mark.slow
def test_models_pull_reuses_the_converted_model(real_model: Any, base_services: Services) -> None:
    from overlay.cli import _register, app

    _register()
    models = base_services.settings.models_path
    env = {"OVERLAY_MODELS_DIR": str(models), "OVERLAY_DATA_DIR": str(models.parent / "unused")}
    result = CliRunner().invoke(app, ["models", "pull", "--json"], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "smollm2-135m-instruct"
    assert (Path(out["path"]) / "model.safetensors").is_file()
