"""Re-export of the project's exception tree (defined in ``memory.errors``)."""

from memory.errors import (
    AdapterNotFound,
    Busy,
    Conflict,
    EmbedderMismatch,
    InvalidInput,
    NotFound,
    OverlayError,
    SessionNotFound,
    SourceNotFound,
    StoreUnavailable,
    TooLarge,
    Unauthorized,
)

__all__ = [
    "AdapterNotFound",
    "Busy",
    "Conflict",
    "EmbedderMismatch",
    "InvalidInput",
    "NotFound",
    "OverlayError",
    "SessionNotFound",
    "SourceNotFound",
    "StoreUnavailable",
    "TooLarge",
    "Unauthorized",
]
