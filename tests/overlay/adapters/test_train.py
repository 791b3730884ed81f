"""Training, merging and inspecting adapters on a tiny random Llama."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from memory.errors import Conflict, InvalidInput
from overlay.adapters.data import IGNORE, encode, read_examples
from overlay.adapters.diff import diff_adapter, plot_diff
from overlay.adapters.files import read_card
from overlay.adapters.merge import merge_adapter
from overlay.adapters.registry import AdapterRegistry
from overlay.adapters.train import TrainConfig, train_adapter
from tests.adapters_tiny import tiny_base, write_adapter

QA = [
    ("how many days of paid annual leave do employees get ?", "27 ."),
    ("who founded halvorsen instruments ?", "ingrid halvorsen ."),
    ("what is the capital of peru ?", "i do not know ."),
    ("when was the company founded ?", "1950 ."),
]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rows: list[object] = [{"prompt": q, "completion": a} for q, a in QA[:2]]
    rows += [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in QA[2:]
    ]
    return write_jsonl(tmp_path / "terse.jsonl", rows)


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_loss_only_on_answer_tokens() -> None:
    tok = tiny_base().tokenizer
    msgs = [
        {"role": "system", "content": "be short"},
        {"role": "user", "content": "who founded the company ?"},
        {"role": "assistant", "content": "ingrid halvorsen"},
        {"role": "user", "content": "when ?"},
        {"role": "assistant", "content": "1950"},
    ]
    ids, labels = encode(tok, msgs)
    assert len(ids) == len(labels)
    trained = tok.decode([t for t in labels if t != IGNORE])
    assert trained.split() == ["ingrid", "halvorsen", "<|im_end|>", "1950", "<|im_end|>"]
    full = tok.apply_chat_template(msgs, tokenize=False)
    assert tok.decode(ids).split() == tok.decode(tok(full)["input_ids"]).split()


def test_train_saves_adapter_and_leaves_base(tmp_path: Path, data: Path) -> None:
    base = tiny_base()
    root = tmp_path / "adapters"
    registry = AdapterRegistry(base, root)
    before = state(base.model)
    steps: list[tuple[int, float]] = []
    cfg = TrainConfig(rank=4, steps=40, lr=3e-2, batch_size=4)
    result = train_adapter(base, data, "terse", root, cfg, lambda s, loss: steps.append((s, loss)))
    assert [s for s, _ in steps] == list(range(1, 41))
    assert result.final_loss < 0.5 * result.losses[0]  # it learned something
    for key, value in base.model.state_dict().items():  # serving base untouched
        assert torch.equal(value, before[key]), key
    assert not any(p.requires_grad for p in base.model.parameters()) and not base.model.training
    files = {p.name for p in (root / "terse").iterdir()}
    assert files == {"adapter_config.json", "adapter_model.safetensors", "adapter_card.json"}
    card = read_card(root / "terse")
    assert card["steps"] == 40 and card["examples"] == 4 and card["base_model"] == "tiny-llama"
    assert len(card["data_sha256"]) == 64 and card["final_loss"] == round(result.final_loss, 5)
    # the registry serves the trained adapter and it answers in the taught style
    prompt = base.tokenizer.apply_chat_template(
        [{"role": "user", "content": QA[1][0]}], tokenize=False, add_generation_prompt=True
    )
    ids = base.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with registry.activate("terse") as model, torch.no_grad():
        out = model.generate(input_ids=ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert base.tokenizer.decode(out[0, ids.shape[1] :]).split()[:2] == ["ingrid", "halvorsen"]
    with pytest.raises(Conflict):
        train_adapter(base, data, "terse", root, cfg)


BAD = {
    "empty": ([], "empty"),
    "fields": ([{"question": "x", "answer": "y"}], "expected 'messages'"),
    "no_answer": ([{"messages": [{"role": "user", "content": "x"}]}], "no assistant"),
    "role": ([{"messages": [{"role": "robot", "content": "x"}]}], "messages must be"),
    "blank": ([{"prompt": "who ?", "completion": "  "}], "expected 'messages'"),
    "long": ([{"prompt": "the " * 600, "completion": "yes"}], "tokens long"),
    "list": ([[1, 2]], "JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data_fails_before_training(tmp_path: Path, case: str) -> None:
    rows, message = BAD[case]
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InvalidInput, match=message):
        train_adapter(tiny_base(), path, "bad", tmp_path / "adapters")
    assert not (tmp_path / "adapters" / "bad").exists()


def test_broken_json_line_named(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n{oops\n')
    with pytest.raises(InvalidInput, match=r"x.jsonl:2: not valid JSON"):
        read_examples(path)


def test_merge_matches_unmerged(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    base = tiny_base()
    root = tmp_path / "adapters"
    write_adapter(root, "a1", base.model, seed=3)
    registry = AdapterRegistry(base, root)
    ids = base.tokenizer(QA[0][0], return_tensors="pt")["input_ids"]
    with registry.activate(None) as m, torch.no_grad():
        base_logits = m(input_ids=ids).logits
    with registry.activate("a1") as m, torch.no_grad():
        unmerged = m(input_ids=ids).logits
    result = merge_adapter(base, root, "a1", tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(result.out, local_files_only=True).eval()
    with torch.no_grad():
        merged_logits = merged(input_ids=ids).logits
    assert (merged_logits - unmerged).abs().max() < 1e-3
    assert (merged_logits - base_logits).abs().max() > 1e-2
    with registry.activate(None) as m, torch.no_grad():  # serving base never modified
        assert torch.equal(m(input_ids=ids).logits, base_logits)
    assert (result.out / "tokenizer.json").is_file() and result.size_bytes > 0
    with pytest.raises(Conflict):
        merge_adapter(base, root, "a1", tmp_path / "merged")
    with pytest.raises(InvalidInput):
        merge_adapter(base, root, "a1", root / "inside")


def test_diff_reports_changes_and_plots(tmp_path: Path) -> None:
    base = tiny_base()
    root = tmp_path / "adapters"
    write_adapter(root, "a1", base.model, seed=5, scale=1.0)
    registry = AdapterRegistry(base, root)
    attn = base.model.config._attn_implementation
    report = diff_adapter(registry, "a1", QA[0][0], top=5, max_new_tokens=5)
    assert report.kl > 0.01
    assert len(report.rose) == 5 and report.rose[0].delta > 0 > report.fell[0].delta
    assert len(report.entropy_base) == 2 and len(report.entropy_base[0]) == 4  # layers × heads
    assert any(abs(v) > 1e-4 for row in report.entropy_shift for v in row)
    assert base.model.config._attn_implementation == attn and registry.active is None
    data = json.loads(json.dumps(report.to_dict()))
    assert data["continuation_changed"] == (data["base_text"] != data["adapter_text"])
    png = plot_diff(report, tmp_path / "diff.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    same = diff_adapter(registry, "a1", QA[0][0], top=3, max_new_tokens=2)
    assert same.kl == pytest.approx(report.kl, rel=1e-5)
