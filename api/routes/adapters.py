"""``GET /v1/adapters``: the adapters on disk (only the adapters dir is ever read)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request

from api.deps import ServicesDep
from api.responses import AdapterRecord, AdaptersResponse
from api.schemas import ERRORS
from overlay.adapters.builtin import list_all
from overlay.adapters.files import AdapterInfo
from overlay.services import Services

if TYPE_CHECKING:  # the registry module loads torch and peft
    from overlay.adapters.registry import AdapterRegistry

router = APIRouter(tags=["adapters"], responses=ERRORS)


def adapter_infos(request: Request, services: Services) -> list[AdapterInfo]:
    """Every adapter in the adapters dir; ``loaded`` is known once the model is up."""
    registry: AdapterRegistry | None = getattr(request.app.state, "registry", None)
    if registry is not None:
        return registry.list()
    return list_all(services.settings.adapters_path)


@router.get("/v1/adapters")
def get_adapters(request: Request, services: ServicesDep) -> AdaptersResponse:
    """Adapters the base model can wear: name, rank, target modules, size, loaded."""
    infos = adapter_infos(request, services)
    return AdaptersResponse(adapters=[AdapterRecord.model_validate(i.to_dict()) for i in infos])
