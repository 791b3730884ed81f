"""Session memory and taught facts as library calls: what the CLI's ``memory`` and ``facts``
commands and the HTTP API's session and fact routes run (``library``), their JSON shapes
(``records``), and the chat turn's memory step (``step``)."""

from overlay.remembering.library import (
    add_fact,
    append_turns,
    correct_fact,
    delete_turn,
    export_session,
    forget_session,
    get_taught_facts,
    import_session,
    log_turn,
    memory_search,
    remove_fact,
    remove_taught_fact,
    session_facts,
    show_session,
    teach_fact,
)
from overlay.remembering.records import fact_result, memory_result

__all__ = [
    "add_fact",
    "append_turns",
    "correct_fact",
    "delete_turn",
    "export_session",
    "fact_result",
    "forget_session",
    "get_taught_facts",
    "import_session",
    "log_turn",
    "memory_result",
    "memory_search",
    "remove_fact",
    "remove_taught_fact",
    "session_facts",
    "show_session",
    "teach_fact",
]
