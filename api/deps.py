"""Request dependencies: the caller's tenant (from the bearer key) and its services.

With ``settings.api_keys`` empty the API runs in local single-tenant mode: every
request uses the app's own services (tenant ``local`` unless the app was given
another). Otherwise ``Authorization: Bearer <key>`` must name a configured key; the
request then sees the stores through that tenant's namespace.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from api.limits import ModelQueue
from api.metrics import Metrics
from memory.errors import StoreUnavailable, Unauthorized
from memory.sessions.turns import validate_session
from overlay.services import Services
from overlay.settings import Settings


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def tenant_for_key(keys: dict[str, str], token: str) -> str | None:
    """The tenant of ``token``, compared in constant time against every key."""
    found = None
    for key, tenant in keys.items():
        if hmac.compare_digest(key.encode(), token.encode()):
            found = tenant
    return found


def get_services(request: Request) -> Services:
    """The services of the calling tenant (401 without a valid key when keys are set)."""
    state = request.app.state
    base: Services | None = getattr(state, "services", None)
    if base is None:
        raise StoreUnavailable("the server is still starting")
    keys = state.settings.api_keys
    if not keys:
        return base
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    tenant = tenant_for_key(keys, token.strip())
    if tenant is None:
        raise Unauthorized("invalid API key")
    cache: dict[str, Services] = state.tenants
    if tenant not in cache:
        cache[tenant] = base.for_tenant(tenant)
    return cache[tenant]


def get_queue(request: Request) -> ModelQueue:
    queue: ModelQueue = request.app.state.queue
    return queue


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def valid_session(session: str | None) -> str | None:
    """``None`` for no session; else the id, checked by session memory's own rule."""
    if session is None or session == "":
        return None
    return validate_session(session)


def header_session(x_session_id: Annotated[str | None, Header()] = None) -> str | None:
    return valid_session(x_session_id)


ServicesDep = Annotated[Services, Depends(get_services)]
QueueDep = Annotated[ModelQueue, Depends(get_queue)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
HeaderSessionDep = Annotated[str | None, Depends(header_session)]
