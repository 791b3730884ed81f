"""One exception tree for the whole project, mapped to HTTP once (in ``api/errors.py``).

    OverlayError                  500  (never raised for bad input)
    ├── NotFound                  404
    │   ├── AdapterNotFound
    │   ├── SessionNotFound
    │   └── SourceNotFound
    ├── InvalidInput              400 / 422
    │   └── EmbedderMismatch      409  (collection made with another embedder)
    ├── Conflict                  409
    ├── TooLarge                  413
    │   └── BudgetExceeded        413  (an ingestion ran past its time budget)
    ├── Cancelled                 499  (the client went away; nobody reads the answer)
    ├── Unauthorized              401
    ├── Busy                      429 / 503 (queue full; carries retry_after)
    └── StoreUnavailable          503  (Redis or Chroma down)

It lives in ``memory`` because every package may import ``memory`` and nothing
below it; ``overlay.errors`` re-exports it for callers.
"""

from __future__ import annotations


class OverlayError(Exception):
    """Base of every error Overlay raises on purpose.

    ``message`` is shown to the caller and speaks only of the caller's own objects;
    ``detail`` (addresses, paths, the store's own words) goes to the server's log only.
    """

    status_code = 500
    type = "overlay_error"

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(OverlayError):
    status_code = 404
    type = "not_found"


class AdapterNotFound(NotFound):
    type = "adapter_not_found"


class SessionNotFound(NotFound):
    type = "session_not_found"


class SourceNotFound(NotFound):
    type = "source_not_found"


class InvalidInput(OverlayError):
    status_code = 400
    type = "invalid_input"


class Conflict(OverlayError):
    status_code = 409
    type = "conflict"


class EmbedderMismatch(Conflict):
    type = "embedder_mismatch"


class TooLarge(OverlayError):
    status_code = 413
    type = "too_large"


class BudgetExceeded(TooLarge):
    type = "time_budget_exceeded"


class Cancelled(OverlayError):
    status_code = 499
    type = "cancelled"


class Unauthorized(OverlayError):
    status_code = 401
    type = "unauthorized"


class Busy(OverlayError):
    """The server is at capacity; the client should retry after ``retry_after`` seconds."""

    status_code = 429
    type = "busy"

    def __init__(self, message: str, retry_after: float = 1.0, detail: str = "") -> None:
        super().__init__(message, detail)
        self.retry_after = retry_after


class StoreUnavailable(OverlayError):
    status_code = 503
    type = "store_unavailable"
