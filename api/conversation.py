"""What an OpenAI request means for a turn: the question, the conversation around it, the
session it belongs to, and the decoding it asks for — or a 400 naming what Overlay cannot do.

- ``messages``: the last user message is the question; earlier user/assistant messages are
  the conversation's turns; system/developer messages are the client's instructions (added
  to Overlay's grounding rules, never replacing them).
- session: ``X-Session-Id``, else ``user``, else none: the turn keeps no memory. The
  conversation still works, from ``messages`` (OpenAI clients send the whole history). An id
  derived from the messages would merge conversations that open alike — two people who
  both start with "Hello" would share one memory (issue 21) — and no function of what two
  such conversations have sent so far can tell them apart; only the client can.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.chat_responses import SessionSource
from api.deps import valid_session
from api.schemas import ChatCompletionRequest
from memory.errors import InvalidInput
from overlay.model.decode import Decoding
from overlay.turn import Conversation

MAX_STOP = 4


@dataclass
class Turn:
    """One OpenAI request read as a chat turn."""

    question: str
    conversation: Conversation
    session: str | None
    session_source: SessionSource


def read_messages(body: ChatCompletionRequest) -> tuple[str, Conversation]:
    """The question (last user message) and the conversation before it."""
    last = max((i for i, m in enumerate(body.messages) if m.role == "user"), default=-1)
    question = body.messages[last].text().strip() if last >= 0 else ""
    if not question:
        raise InvalidInput("messages must end with a user message that has text")
    instructions: list[str] = []
    turns: list[tuple[str, str]] = []
    for i, m in enumerate(body.messages):
        text = m.text().strip()
        if not text or i == last:
            continue
        if m.role in ("system", "developer"):
            instructions.append(text)
        elif m.role in ("user", "assistant") and i < last:
            turns.append((str(m.role), text))
    return question, Conversation("\n\n".join(instructions), turns)


def resolve_session(
    header: str | None, body: ChatCompletionRequest
) -> tuple[str | None, SessionSource]:
    """``X-Session-Id``, else ``user``, else no session (no memory); and which it was."""
    if header:
        return header, "header"
    user = valid_session(body.user)
    if user:
        return user, "user"
    return None, "none"


def read_turn(tenant: str, header: str | None, body: ChatCompletionRequest) -> Turn:
    refuse_unsupported(body)
    question, conversation = read_messages(body)
    session, source = resolve_session(header, body)
    return Turn(question, conversation, session, source)


def refuse_unsupported(body: ChatCompletionRequest) -> None:
    """A 400 naming the first parameter Overlay would otherwise have to ignore."""
    if body.n is not None and body.n != 1:
        raise InvalidInput(f"n={body.n} is not supported: Overlay returns one choice (n=1)")
    choice = body.tool_choice
    if body.tools and (choice == "required" or isinstance(choice, dict)):
        raise InvalidInput(
            "tool_choice: Overlay does not call tools; only 'none' or 'auto' (never called)"
        )
    kind = (body.response_format or {}).get("type", "text")
    if kind != "text":
        raise InvalidInput(f"response_format {kind!r} is not supported: only 'text'")
    if body.logprobs or body.top_logprobs:
        raise InvalidInput("logprobs are not supported: send logprobs false (or omit it)")
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(body, name):
            raise InvalidInput(f"{name} is not supported: send 0 (or omit it)")


def decoding_of(body: ChatCompletionRequest, default_max_tokens: int) -> Decoding:
    """The generation knobs of the request (unset ones: greedy, the server's token budget)."""
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stop) > MAX_STOP or any(not s for s in stop):
        raise InvalidInput(f"stop: at most {MAX_STOP} non-empty strings")
    return Decoding(
        max_new_tokens=body.max_completion_tokens or body.max_tokens or default_max_tokens,
        temperature=body.temperature if body.temperature is not None else 0.0,
        top_p=body.top_p if body.top_p is not None else 1.0,
        seed=body.seed,
        stop=tuple(stop),
    )
