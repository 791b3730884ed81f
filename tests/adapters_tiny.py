"""A tiny random Llama with a word-level tokenizer and chat template, for adapter mechanics.

Building it takes milliseconds, so every test gets a fresh base; it is shared by
the adapter tests and by ``bench/adapters_bench.py`` (which can scale it up to
SmolLM2's shape when the real model is not converted).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from overlay.model.base import BaseModel

SPECIALS = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
WORDS = (
    "user assistant system the a an is are was what who how many when where why yes no "
    "i you it of in on to and or not do does did know answer question days leave paid "
    "annual employees get founded halvorsen instruments company ingrid capital peru "
    "short long very please tell me about please explain one two three four five six "
    "seven eight nine ten twenty seven 27 1950 oslo norway sensor sensors make makes "
    "built build product products support email phone hours open closed monday friday "
    "because therefore however sure certainly here is detailed explanation of the answer"
).split()
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def word_tokenizer(
    tokens: list[str], *, bos: str, eos: str, chat_template: str, specials: tuple[str, ...] = ()
) -> Any:
    """A whitespace word-level fast tokenizer over ``tokens`` (ids in list order)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({t: i for i, t in enumerate(tokens)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    extra = {"additional_special_tokens": list(specials)} if specials else {}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", bos_token=bos,
        eos_token=eos, **extra,
    )  # fmt: skip
    fast.chat_template = chat_template
    return fast


def tiny_tokenizer() -> Any:
    return word_tokenizer(
        SPECIALS + sorted(set(WORDS) | set("?.,!")),
        bos="<|im_start|>",
        eos="<|im_end|>",
        chat_template=CHAT_TEMPLATE,
        specials=("<|im_start|>", "<|im_end|>"),
    )


def tiny_model(vocab: int, hidden: int = 32, layers: int = 2, seed: int = 0, **kw: Any) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        # initializer_range 0.2: large enough for LoRA to move the logits
        **{"max_position_embeddings": 256, "initializer_range": 0.2, **kw},
    )
    model = LlamaForCausalLM(config).eval()
    model.requires_grad_(False)  # frozen, like the served base
    return model


def tiny_base(name: str = "tiny-llama", seed: int = 0) -> BaseModel:
    tokenizer = tiny_tokenizer()
    return BaseModel(tiny_model(len(tokenizer), seed=seed), tokenizer, name)


def write_adapter(
    root: Path,
    name: str,
    model: Any,
    rank: int = 4,
    seed: int = 1,
    base_name: str = "tiny-llama",
    targets: list[str] | None = None,
    scale: float = 0.5,
) -> Path:
    """Write a random (non-zero) LoRA adapter for ``model`` in PEFT's on-disk format."""
    targets = targets or TARGETS
    gen = torch.Generator().manual_seed(seed)
    tensors = {}
    for path, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and path.rsplit(".", 1)[-1] in targets:
            key = f"base_model.model.{path}"
            a = torch.randn(rank, module.in_features, generator=gen) * scale
            b = torch.randn(module.out_features, rank, generator=gen) * scale
            tensors[f"{key}.lora_A.weight"], tensors[f"{key}.lora_B.weight"] = a, b
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": rank,
        "lora_alpha": rank,
        "target_modules": targets,
        "base_model_name_or_path": base_name,
        "bias": "none",
        "lora_dropout": 0.0,
    }
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder
