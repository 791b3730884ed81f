"""The context builder fits a turn's prompt into a budget counted with a real tokenizer."""

from __future__ import annotations

import pytest

from memory.embeddings import SentenceEmbedder
from memory.errors import TooLarge
from memory.types import Hit
from overlay.answering.prompt import build_context


@pytest.fixture(scope="module")
def count(minilm: SentenceEmbedder):  # type: ignore[no-untyped-def]
    return minilm.count_tokens


def _recent(n: int) -> list[dict[str, str]]:
    return [{"role": "user" if i % 2 == 0 else "assistant",
             "content": f"turn {i} about the harbour, the ferries and the weather"}
            for i in range(n)]  # fmt: skip


def test_everything_fits_in_a_large_budget(count) -> None:  # type: ignore[no-untyped-def]
    docs = [Hit("d1", "Employees get 27 days of paid annual leave.", 0.9)]
    mem = [Hit("t3", "I live in Oslo", 0.8, kind="turn", metadata={"turn": 3, "role": "user"})]
    ctx = build_context(
        count, 4000, system="Be brief.", question="How many days?", facts=["my name is Bob"],
        memories=mem, recent=_recent(4), documents=docs,
    )  # fmt: skip
    assert ctx.facts == ["my name is Bob"] and ctx.memories == mem and len(ctx.recent) == 4
    assert ctx.documents == docs and not ctx.dropped
    text = ctx.system_text()
    assert "my name is Bob" in text and "I live in Oslo" in text and "[1] Employees" in text
    msgs = ctx.messages()
    assert msgs[0]["role"] == "system" and msgs[-1] == {"role": "user", "content": "How many days?"}


@pytest.mark.parametrize("budget", [60, 90, 140, 260])
def test_the_rendered_prompt_stays_within_the_budget(count, budget: int) -> None:  # type: ignore[no-untyped-def]
    docs = [
        Hit(f"d{i}", "The handbook says " + "leave policy details " * 12, 0.5) for i in range(3)
    ]
    ctx = build_context(count, budget, system="Answer from the documents.", question="Leave?",
                        facts=["my name is Bob", "I live in Oslo"], recent=_recent(30),
                        documents=docs)  # fmt: skip
    rendered = [ctx.system_text(), *[m["content"] for m in ctx.messages()[1:]]]
    assert sum(count(t) for t in rendered) <= budget
    assert ctx.tokens <= budget
    # the newest turns are the ones kept, contiguous, in order
    if ctx.recent:
        assert ctx.recent[-1]["content"] == _recent(30)[-1]["content"]
    # documents are not crowded out by the long conversation
    assert ctx.documents or budget < 90
    assert ctx.dropped.get("recent", 0) + len(ctx.recent) == 30


def test_system_and_question_alone_too_large(count) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TooLarge):
        build_context(count, 10, system="word " * 50, question="q?")


def test_a_memory_already_among_recent_turns_is_not_repeated(count) -> None:  # type: ignore[no-untyped-def]
    recent = _recent(2)
    dup = Hit("t1", recent[1]["content"], 0.9, kind="turn", metadata={"turn": 1})
    ctx = build_context(count, 500, system="s", question="q", memories=[dup], recent=recent)
    assert ctx.memories == [] and len(ctx.recent) == 2
