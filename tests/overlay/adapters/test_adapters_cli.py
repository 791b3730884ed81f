"""``overlay adapters …`` commands; one end-to-end run on the real SmolLM2 model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from memory.errors import AdapterNotFound, InvalidInput
from overlay.adapters.registry import AdapterRegistry
from tests.adapters_tiny import tiny_base, write_adapter

REPO = Path(__file__).resolve().parents[3]
TERSE = REPO / "examples" / "adapters" / "terse.jsonl"


def cli(data_dir: Path, *args: str) -> Any:
    from overlay.cli import _register, app

    _register()
    return CliRunner().invoke(app, ["--data-dir", str(data_dir), "adapters", *args])


def test_cli_list_and_remove(tmp_path: Path) -> None:
    base = tiny_base()
    root = tmp_path / "adapters"
    write_adapter(root, "a1", base.model)
    write_adapter(root, "a2", base.model, rank=2)
    res = cli(tmp_path, "list", "--json")
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)["adapters"]}
    assert rows["a1"]["rank"] == 4 and rows["a2"]["rank"] == 2 and not rows["a1"]["loaded"]
    assert cli(tmp_path, "remove", "a1", "--json").exit_code == 0
    assert [r["name"] for r in json.loads(cli(tmp_path, "list", "--json").stdout)["adapters"]] == [
        "a2",
        "memory-reader",  # the built-ins stay listed
        "reader",
        "reader-strict",
    ]
    assert isinstance(cli(tmp_path, "remove", "a1").exception, AdapterNotFound)
    assert isinstance(cli(tmp_path, "remove", "../adapters").exception, InvalidInput)
    assert (root / "a2").is_dir()


def test_cli_train_rejects_bad_data_before_loading(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x"}\n')
    res = cli(tmp_path, "train", "x", "--data", str(bad))
    assert isinstance(res.exception, InvalidInput) and "bad.jsonl:1" in res.exception.message


def test_cli_train_diff_merge_on_tiny_model_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM

    folder = tmp_path / "tiny-llama"
    base = tiny_base()
    base.model.save_pretrained(folder)
    base.tokenizer.save_pretrained(folder)
    monkeypatch.setenv("OVERLAY_MODEL", str(folder))
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "who founded the company ?", "completion": "ingrid"}))
    res = cli(tmp_path, "train", "t1", "--data", str(data), "--steps", "3", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 3 and summary["examples"] == 1
    res = cli(tmp_path, "diff", "t1", "--prompt", "who founded the company ?", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["adapter"] == "t1"
    res = cli(tmp_path, "diff", "t1", "--prompt", "who ?", "--plot", str(tmp_path / "p.png"))
    assert res.exit_code == 0 and "KL" in res.stdout and (tmp_path / "p.png").is_file()
    res = cli(tmp_path, "merge", "t1", "--out", str(tmp_path / "merged"))
    assert res.exit_code == 0, res.output
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "merged", local_files_only=True)
    assert isinstance(cli(tmp_path, "diff", "nope", "--prompt", "x").exception, AdapterNotFound)


@pytest.mark.slow
def test_end_to_end_real_model(tmp_path: Path, real_model: Any) -> None:
    """Train the terse example briefly, inspect it, merge it; merged == unmerged logits."""
    from transformers import AutoModelForCausalLM

    from overlay.adapters.diff import diff_adapter
    from overlay.adapters.merge import merge_adapter
    from overlay.adapters.train import TrainConfig, train_adapter

    root = tmp_path / "adapters"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the 2 shared cores thrash with 2 OpenMP threads under load
    registry = AdapterRegistry(real_model, root)
    try:
        cfg = TrainConfig(steps=2, batch_size=2, lr=1e-2)
        result = train_adapter(real_model, TERSE, "terse", root, cfg)
        assert result.examples == 40 and len(result.losses) == 2
        report = diff_adapter(registry, "terse", "What is the capital of Italy?", max_new_tokens=3)
        assert report.kl > 0 and len(report.entropy_shift) == 30  # SmolLM2 has 30 layers
        merged_dir = merge_adapter(real_model, root, "terse", tmp_path / "merged").out
        merged = AutoModelForCausalLM.from_pretrained(merged_dir, local_files_only=True).eval()
        ids = real_model.tokenizer("The capital of Italy is", return_tensors="pt")["input_ids"]
        with registry.activate("terse") as model, torch.no_grad():
            unmerged = model(input_ids=ids).logits
        with torch.no_grad():
            assert (merged(input_ids=ids).logits - unmerged).abs().max() < 1e-3
    finally:
        registry.close()  # the session's real model is shared with other tests
        torch.set_num_threads(threads)
