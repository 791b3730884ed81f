"""One request, checked once where the library is entered.

``resolve`` turns what a caller sends — HTTP body, CLI options or Python arguments — into a
frozen ``TurnRequest`` before anything is logged, loaded or created: the text (not empty,
not over ``settings.api.max_message_chars``), the mode, ``k`` (1 to ``MAX_K``, the same over
HTTP, the CLI and Python), the collection (a valid name that this tenant has) and the
adapter (a folder on disk; checked without loading torch). ``overlay.turn.ask`` and
``overlay.turn.retrieve`` take a resolved request; ``api/schemas.py`` imports its patterns
and limits from here, so the rules are written once.

Unknown names raise ``CollectionNotFound`` / ``AdapterNotFound`` naming what exists (a 404
over HTTP, exit code 2 on the CLI); bad values ``InvalidInput`` (400) and an over-long
text ``TooLarge`` (413).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

from memory.errors import AdapterNotFound, InvalidInput, TooLarge
from overlay.adapters.builtin import list_all, root_for
from overlay.adapters.files import validate_name
from overlay.knobs import MAX_K
from overlay.services import COLLECTION_PATTERN, Services

Mode = Literal["read", "choose", "generate"]
Method = Literal["dense", "sparse", "hybrid", "chosen"]
MODES: tuple[str, ...] = get_args(Mode)
METHODS: tuple[str, ...] = get_args(Method)

__all__ = [
    "COLLECTION_PATTERN", "MAX_K", "METHODS", "MODES", "Method", "Mode", "TurnRequest",
    "check_names", "check_text", "resolve", "resolve_retrieve",
]  # fmt: skip


@dataclass(frozen=True)
class TurnRequest:
    """A checked request: every name exists, every value is in range."""

    text: str
    collection: str
    k: int
    mode: Mode = "read"
    adapter: str | None = None  # None: the base model
    session: str | None = None
    method: Method = "hybrid"  # retrieval only


def check_text(text: str, limit: int, what: str = "message") -> str:
    """``text`` if it has something in it and at most ``limit`` characters."""
    if not text or not text.strip():
        raise InvalidInput(f"the {what} is empty")
    if len(text) > limit:
        raise TooLarge(f"{what} has {len(text)} characters; the limit is {limit}")
    return text


def _k(k: int | None, default: int) -> int:
    k = default if k is None else k
    if not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be between 1 and {MAX_K}, not {k}")
    return k


def _adapter(services: Services, name: str | None) -> str | None:
    """``name`` if an adapter folder of that name exists (the user's or a built-in)."""
    if name is None:
        return None
    validate_name(name)
    try:
        root_for(services.settings.adapters_path, name)
    except AdapterNotFound:
        have = ", ".join(a.name for a in list_all(services.settings.adapters_path)) or "none"
        raise AdapterNotFound(f"adapter {name!r} not found; available adapters: {have}") from None
    return name


def _mode(mode: str | None, default: str) -> Mode:
    mode = mode or default
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}: use {', '.join(MODES)}")
    return cast(Mode, mode)


def resolve(
    services: Services,
    text: str,
    *,
    mode: str | None = None,
    k: int | None = None,
    collection: str | None = None,
    adapter: str | None = None,
    session: str | None = None,
    what: str = "message",
) -> TurnRequest:
    """A chat turn's request, checked; unset values take the settings' defaults."""
    s = services.settings
    check_text(text, s.api.max_message_chars, what)
    checked_mode = _mode(mode, s.answer.mode)
    checked_k = _k(k, s.retrieve.top_k)
    coll, name = check_names(services, collection, adapter)
    if session is not None and not session.strip():
        raise InvalidInput("the session id is empty")
    return TurnRequest(text, coll, checked_k, checked_mode, name, session)


def check_names(
    services: Services, collection: str | None, adapter: str | None = None
) -> tuple[str, str | None]:
    """The collection (default: the settings') and the adapter, both known to exist (a REPL
    checks them once, before its first prompt)."""
    name = _adapter(services, adapter)
    return services.require_collection(collection or services.settings.collection), name


def resolve_retrieve(
    services: Services,
    query: str,
    *,
    k: int | None = None,
    collection: str | None = None,
    method: str = "hybrid",
) -> TurnRequest:
    """A retrieval request, checked: the query, ``k``, the method and the collection."""
    s = services.settings
    check_text(query, s.api.max_message_chars, "query")
    if method not in METHODS:
        raise InvalidInput(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    checked_k = _k(k, s.retrieve.top_k)
    coll = services.require_collection(collection or s.collection)
    return TurnRequest(query, coll, checked_k, method=cast(Method, method))
