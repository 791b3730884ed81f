"""``GET /v1/adapters``: the adapters on disk (only the adapters dir is ever read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import ServicesDep
from api.schemas import ERRORS
from overlay.adapters.builtin import list_all
from overlay.adapters.files import AdapterInfo
from overlay.services import Services

router = APIRouter(tags=["adapters"], responses=ERRORS)


def adapter_infos(request: Request, services: Services) -> list[AdapterInfo]:
    """Every adapter in the adapters dir; ``loaded`` is known once the model is up."""
    registry = getattr(request.app.state, "registry", None)
    if registry is not None:
        infos: list[AdapterInfo] = registry.list()
        return infos
    return list_all(services.settings.adapters_path)


@router.get("/v1/adapters")
def get_adapters(request: Request, services: ServicesDep) -> dict[str, Any]:
    """Adapters the base model can wear: name, rank, target modules, size, loaded."""
    return {"adapters": [info.to_dict() for info in adapter_infos(request, services)]}
