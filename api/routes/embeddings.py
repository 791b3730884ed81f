"""``POST /v1/embeddings``: OpenAI's embeddings with the server's own embedder.

``model`` is the embedder's id as ``/v1/models`` lists it (its full configured name is
accepted too); ``input`` is a string or a list of strings; ``encoding_format`` is ``float``
or ``base64`` (little-endian float32, what the official client asks for by default).
Vectors are L2-normalised, as the stores use them.
"""

from __future__ import annotations

import base64

import numpy as np
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from api.chat_responses import Embedding, EmbeddingList, EmbeddingUsage
from api.deps import ServicesDep
from api.limits import check_length
from api.routes.chat import embedder_id
from api.schemas import ERRORS, EmbeddingRequest
from memory.errors import InvalidInput, NotFound
from overlay.services import Services

router = APIRouter(tags=["embeddings"], responses=ERRORS)

MAX_INPUTS = 256


def _inputs(body: EmbeddingRequest, max_chars: int) -> list[str]:
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    if not texts or len(texts) > MAX_INPUTS:
        raise InvalidInput(f"input: give 1 to {MAX_INPUTS} strings")
    for i, text in enumerate(texts):
        if not text.strip():
            raise InvalidInput(f"input[{i}] is empty")
        check_length(text, max_chars, f"input[{i}]")
    return texts


def _embed(services: Services, body: EmbeddingRequest, texts: list[str]) -> EmbeddingList:
    embedder = services.embedder
    name = embedder_id(services)
    if body.model not in (name, embedder.name):
        raise NotFound(f"model {body.model!r} not found; the embedding model is {name!r}")
    if body.dimensions is not None and body.dimensions != embedder.dim:
        raise InvalidInput(f"dimensions: {name} has {embedder.dim} only")
    vectors = embedder.embed(texts)  # (N, dim) float32
    data = [Embedding(index=i, embedding=_encoded(v, body.encoding_format)) for i, v in
            enumerate(vectors)]  # fmt: skip
    used = sum(embedder.count_tokens(t) for t in texts)
    usage = EmbeddingUsage(prompt_tokens=used, total_tokens=used)
    return EmbeddingList(data=data, model=body.model, usage=usage)


def _encoded(vector: np.ndarray, fmt: str) -> list[float] | str:
    if fmt == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


@router.post("/v1/embeddings", response_model=EmbeddingList)
async def embeddings(
    body: EmbeddingRequest, request: Request, services: ServicesDep
) -> EmbeddingList:
    """Embed ``input`` with the server's embedder (the one the collections are built with)."""
    texts = _inputs(body, request.app.state.settings.api.max_message_chars)
    return await run_in_threadpool(_embed, services, body, texts)
