"""Does a bf16 prefill change greedy answers? (It decides ``numeric.py``'s prefill pass.)

16 SQuAD 2.0 dev prompts (first two paragraphs of articles 8-15, their first question, the
answering chat format), 48 greedy tokens each, decoded after an fp32 and after a bf16
prefill (decoding fp32 both times). Prints how many answers are identical.

    python bench/bf16_prefill_check.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from overlay.model.base import load_base_model  # noqa: E402
from overlay.model.decode import Decoding, decode  # noqa: E402
from overlay.model.numeric import NumericPath, set_path  # noqa: E402
from overlay.model.prefix import PREFIXES  # noqa: E402
from overlay.settings import Settings  # noqa: E402

SQUAD = Path("/work/shared/data/squad2-dev/dev-v2.0.json")


def main() -> None:
    bm = load_base_model(Settings(models_dir=ROOT / ".cache" / "models", dtype="fp32"))
    articles = json.loads(SQUAD.read_text(encoding="utf-8"))["data"][8:16]
    prompts = []
    for art in articles:
        for para in art["paragraphs"][:2]:
            msgs = [
                {"role": "system", "content": "Answer from the passage and cite it like [1]."},
                {"role": "user",
                 "content": f"[1] {para['context']}\n\nQuestion: {para['qas'][0]['question']}"},
            ]  # fmt: skip
            out = bm.tokenizer.apply_chat_template(
                msgs, add_generation_prompt=True, tokenize=True, return_dict=True
            )
            prompts.append(list(out["input_ids"]))
    same, diverge = 0, []
    for n, ids in enumerate(prompts, 1):
        answers = []
        for path in (NumericPath(), NumericPath(prefill="bf16")):
            PREFIXES.clear()
            set_path(bm.model, path)
            answers.append(decode(bm.model, bm.tokenizer, ids, Decoding(max_new_tokens=48)))
        a, b = answers[0].token_ids, answers[1].token_ids
        if a == b:
            same += 1
        else:
            pairs = enumerate(zip(a, b, strict=False))
            diverge.append(next((i for i, (x, y) in pairs if x != y), min(len(a), len(b))))
        print(f"  {n}/{len(prompts)} {len(ids)} tokens: {'same' if a == b else 'differs'}")
    print(f"bf16 prefill: {same}/{len(prompts)} greedy answers identical to fp32 "
          f"(48 tokens); the others diverge at tokens {diverge}")  # fmt: skip


if __name__ == "__main__":
    main()
