"""``POST /v1/feedback``: a vote on a turn adjusts the semantic weight table (not the model)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.responses import FeedbackResponse
from api.schemas import ERRORS, FeedbackRequest
from overlay.choosing.feedback import record_feedback

router = APIRouter(prefix="/v1/feedback", tags=["feedback"], responses=ERRORS)


@router.post("")
def post_feedback(body: FeedbackRequest, services: ServicesDep) -> FeedbackResponse:
    """``helpful`` raises (or lowers) the cited candidate for the turn's query terms.

    ``candidate_id`` picks one citation; without it every citation of the turn moves.
    """
    result = record_feedback(services, body.turn_id, body.helpful, candidate_id=body.candidate_id)
    return FeedbackResponse.model_validate(result.to_dict())
