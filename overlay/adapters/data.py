"""Training data for adapters: JSONL parsing, chat rendering and answer-only labels.

Each line is ``{"messages": [{"role", "content"}, …]}`` or
``{"prompt": …, "completion": …}``. Examples are rendered with the tokenizer's chat
template (the one the answer path uses); only the assistant turns, with their end
marker, carry loss. Any problem is an ``InvalidInput`` naming the line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memory.errors import InvalidInput

IGNORE = -100  # label of tokens without loss (prompt, padding)
MAX_EXAMPLES = 100_000
_ROLES = {"system", "user", "assistant"}

Encoded = tuple[list[int], list[int]]  # (input ids, labels)


def read_examples(path: Path) -> list[list[dict[str, str]]]:
    """Parse the JSONL file into chat message lists; any bad line is a clear ``InvalidInput``."""
    if not path.is_file():
        raise InvalidInput(f"training data {path} not found")
    examples: list[list[dict[str, str]]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        examples.append(_messages(row, f"{path}:{number}"))
        if len(examples) > MAX_EXAMPLES:
            raise InvalidInput(f"{path}: more than {MAX_EXAMPLES} examples")
    if not examples:
        raise InvalidInput(f"{path}: no training examples (the file is empty)")
    return examples


def _messages(row: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(row, dict):
        raise InvalidInput(f"{where}: each line must be a JSON object")
    if "messages" in row:
        msgs = row["messages"]
        ok = isinstance(msgs, list) and all(
            isinstance(m, dict)
            and m.get("role") in _ROLES
            and isinstance(m.get("content"), str)
            and m["content"].strip()
            for m in msgs
        )
        if not ok:
            raise InvalidInput(f"{where}: messages must be [{{role, content}}] with non-empty text")
        if not any(m["role"] == "assistant" for m in msgs):
            raise InvalidInput(f"{where}: no assistant message to learn from")
        return [{"role": m["role"], "content": m["content"]} for m in msgs]
    prompt, completion = row.get("prompt"), row.get("completion")
    if isinstance(prompt, str) and isinstance(completion, str) and prompt and completion.strip():
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    raise InvalidInput(f"{where}: expected 'messages' or non-empty 'prompt' and 'completion'")


def _render(tokenizer: Any, messages: list[dict[str, str]], prompt: bool) -> str:
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)
        return str(text)
    parts = [f"{m['role'].capitalize()}: {m['content']}\n" for m in messages]
    eos = tokenizer.eos_token or ""
    parts = [
        p if m["role"] != "assistant" else p[:-1] + eos + "\n"
        for p, m in zip(parts, messages, strict=True)
    ]
    return "".join(parts) + ("Assistant: " if prompt else "")


def encode(tokenizer: Any, messages: list[dict[str, str]]) -> Encoded:
    """Token ids and labels; only the assistant turns (with their end marker) carry loss."""
    ids: list[int] = []
    labels: list[int] = []
    done = ""
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], prompt=True)
        after = _render(tokenizer, messages[: i + 1], prompt=False)
        if not before.startswith(done) or not after.startswith(before):
            raise InvalidInput("the tokenizer's chat template does not render turns incrementally")
        context = tokenizer(before[len(done) :], add_special_tokens=False)["input_ids"]
        answer = tokenizer(after[len(before) :], add_special_tokens=False)["input_ids"]
        ids += context + answer
        labels += [IGNORE] * len(context) + answer
        done = after
    return ids, labels


def encode_all(
    tokenizer: Any, examples: list[list[dict[str, str]]], max_tokens: int
) -> list[Encoded]:
    encoded = []
    for number, messages in enumerate(examples, 1):
        ids, labels = encode(tokenizer, messages)
        if len(ids) > max_tokens:
            raise InvalidInput(
                f"example {number} is {len(ids)} tokens long; the limit is {max_tokens}"
            )
        encoded.append((ids, labels))
    return encoded
