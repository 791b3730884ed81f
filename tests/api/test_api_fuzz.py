"""Property-based fuzzing of the OpenAPI schema (schemathesis): no 5xx, errors in one shape,
every body conforming to the response schema documented for its status.

Every operation gets valid and invalid (negative) generated requests; the app runs
with its lifespan (stores checked, model queue started) and a tiny random model.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from overlay.services import Services
from tests.apiserver import make_app

FUZZ = settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
    database=None,
)  # fmt: skip


# POST /v1/sessions/{id}/import takes an export's JSON lines: a string, sent as text
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

SEEN: list[int] = []


def _check(case: Any) -> None:
    response = case.call()
    SEEN.append(response.status_code)
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, (where, response.text[:500])
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, where
    # whatever came back matches the response schema OpenAPI documents for its status
    case.validate_response(response, checks=[checks.response_schema_conformance])


def test_fuzz_every_operation_no_server_errors(services: Services, tiny_model: Any) -> None:
    app = make_app(services, model=tiny_model, max_new_tokens=4, max_body_bytes=65_536)
    with TestClient(app):
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 18
        for op in operations:
            cases = st.one_of(
                op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE)
            )
            FUZZ(given(case=cases)(_check))()
    assert len(SEEN) > 100
    assert any(200 <= s < 300 for s in SEEN) and any(s == 422 for s in SEEN)
    assert any(s in (400, 404) for s in SEEN)
