"""``overlay chat`` driven end to end in a terminal (pexpect): real stores, the real embedder,
the tiny random Llama saved as the base model (choose mode, no reader adapter), so it is fast.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "docs"
CODE = "from overlay.cli import main; main()"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, tiny_model: Any) -> dict[str, str]:
    root = tmp_path_factory.mktemp("chat-repl")
    model_dir = root / "tiny-llama"
    tiny_model.model.save_pretrained(model_dir, safe_serialization=True)
    tiny_model.tokenizer.save_pretrained(model_dir)
    env = {
        **os.environ,
        "OVERLAY_DATA_DIR": str(root / "data"),
        "OVERLAY_MODEL": str(model_dir),
        "OVERLAY_ANSWER__MODE": "choose",  # the built-in reader is SmolLM2's, not the tiny one's
        "OVERLAY_CHOOSE__THRESHOLD": "0",  # a random model's evidence is low: never abstain
        "OVERLAY_CLI_SERVER": "off",
        "TERM": "dumb",
        "COLUMNS": "200",
    }
    ingested = _overlay(env, "ingest", str(EXAMPLES), "-c", "docs")
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    return env


def _overlay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CODE, *args], env=env, capture_output=True, text=True, timeout=300
    )


def _chat(env: dict[str, str], session: str) -> pexpect.spawn:
    """``overlay chat`` on the sample docs in a 50 × 200 terminal."""
    return pexpect.spawn(
        sys.executable, ["-c", CODE, "chat", "-s", session, "-c", "docs"],
        env=env, encoding="utf-8", timeout=180, dimensions=(50, 200),
    )  # fmt: skip


def test_chat_prints_answers_with_real_citations(env: dict[str, str]) -> None:
    child = _chat(env, "repl-1")
    try:
        child.expect("session repl-1")
        child.expect("> ")
        child.sendline("How many days of paid annual leave do employees get?")
        child.expect("\n> ")  # the answer and its citations, then the next prompt
        flat = " ".join(child.before.split())  # rich wraps long lines at the terminal's width
        cites = re.findall(r"↳ (\S+) · (\S+): (.*?)(?= ↳ |$)", flat)
        assert cites, child.before
        for source, cid, text in cites:  # the passage's source, id and text, not "↳ : "
            assert Path(source).parent == EXAMPLES and len(cid) >= 8, child.before
            assert len(text) > 20 and text[:20] in flat, child.before
        child.sendline("")  # an empty line ends the chat
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    shown = _overlay(env, "memory", "show", "repl-1", "--json")
    assert shown.returncode == 0 and "paid annual leave" in shown.stdout, shown.stderr


def test_unknown_names_exit_two_naming_what_exists(env: dict[str, str]) -> None:
    cases = [
        (("chat", "-s", "repl-2", "-c", "nope"), "collection 'nope' not found", "docs"),
        (("ask", "hi", "-s", "repl-2", "-a", "ghost"), "adapter 'ghost' not found", "reader"),
        (("ask", "hi", "-s", "repl-2", "-c", "nope"), "collection 'nope' not found", "default"),
        (("retrieve", "hi", "-c", "nope", "--json"), "collection 'nope' not found", "docs"),
    ]
    for args, says, lists in cases:
        r = _overlay(env, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and lists in lines[0], r.stderr
        assert "Traceback" not in r.stderr
    too_many = _overlay(env, "retrieve", "hi", "-k", "101")
    assert too_many.returncode == 2 and "less than or equal to 100" in too_many.stderr
    shown = _overlay(env, "memory", "show", "repl-2", "--json")  # nothing was logged
    assert shown.returncode == 2 and "repl-2" in shown.stderr


def test_an_abstention_says_why_in_ask_and_chat(env: dict[str, str]) -> None:
    strict = {**env, "OVERLAY_CHOOSE__THRESHOLD": "1"}  # no passage clears it: abstain
    asked = _overlay(strict, "ask", "How long is parental leave?", "-c", "docs")
    assert asked.returncode == 0, asked.stderr
    assert "I don't know" in asked.stdout
    assert "(no passage found scored above the answer threshold)" in asked.stdout
    child = _chat(strict, "repl-3")
    try:
        child.expect("> ")
        child.sendline("How long is parental leave?")
        child.expect("\n> ")
        assert "(no passage found scored above the answer threshold)" in child.before
        child.sendline("")
        child.expect(pexpect.EOF)
    finally:
        child.close()
