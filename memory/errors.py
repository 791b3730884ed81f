"""One exception tree for the whole project, mapped to HTTP once (in ``api/errors.py``).

Every error Overlay raises on purpose is an ``OverlayError``. Its class gives the HTTP
status and the ``type`` of the error body ``{"error": {"type", "message"}}``; the CLI
prints its ``message`` on one line and exits non-zero. Catch the most specific class
that fits (``AdapterNotFound``, not ``Exception``)::

    OverlayError                500  overlay_error         a failure of ours, never bad input
    ├── NotFound                404  not_found
    │   ├── AdapterNotFound     404  adapter_not_found     an unknown adapter never runs the base
    │   ├── SessionNotFound     404  session_not_found
    │   ├── SourceNotFound      404  source_not_found
    │   └── CollectionNotFound  404  collection_not_found
    ├── InvalidInput            400  invalid_input         (FastAPI's request validation is 422)
    │   └── KeyReused           422  idempotency_key_reused  a key resent with another body
    ├── Conflict                409  conflict              e.g. a session bound to another user
    │   └── EmbedderMismatch    409  embedder_mismatch     a collection made with another embedder
    ├── TooLarge                413  too_large
    │   └── BudgetExceeded      413  time_budget_exceeded  an ingestion ran past its time budget
    ├── Cancelled               499  cancelled             the client went away; nobody reads
    ├── Unauthorized            401  unauthorized
    ├── Busy                    429  busy                  queue or lock held; carries retry_after
    ├── StoreUnavailable        503  store_unavailable     Redis or Chroma down or unreachable
    └── Misconfigured           503  misconfigured         a setting names what is not there

It lives in ``memory`` because every package may import ``memory`` and ``memory``
imports nothing of ours (``api → overlay → ingest → memory``).
``tests/memory/test_errors.py`` checks this drawing against the classes.
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


class CollectionNotFound(NotFound):
    type = "collection_not_found"


class InvalidInput(OverlayError):
    status_code = 400
    type = "invalid_input"


class KeyReused(InvalidInput):
    """An ``Idempotency-Key`` reused for a request with another body."""

    status_code = 422
    type = "idempotency_key_reused"


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


class Misconfigured(OverlayError):
    """A setting names something that is not there (read mode's reader adapter): no request
    can fix it, the server's configuration must change."""

    status_code = 503
    type = "misconfigured"
