"""What a service's OpenAPI says about its errors: problem+json, for every status it can answer.

Every route answers some of 400, 401, 403, 404, 409, 413, 422, 429 and 503 as RFC 9457
problem+json (`tessera.http.problems`); FastAPI alone would document none of them, and its
default 422 as `application/json` with a body we never send. A router declares its errors once:

    router = APIRouter(prefix="/v1/orders", responses=problem_responses(404, 409))

(401, 403, 413, 422, 429 and 503 come with every route: a bearer token may fail, a body may be
too large or invalid, a limit may answer, a dependency may be away.) A schema-based fuzzer holds
the services to it (`tests/test_openapi_fuzz.py`, `make fuzz`).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVERY_ROUTE = (400, 401, 403, 413, 422, 429, 503)
"""What any route may answer: a bad request or token, a body too large or invalid, a rate
limit, a database or peer that is away."""


class Problem(BaseModel):
    """An RFC 9457 problem; some carry more members (`errors`, `checks`, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["about:blank"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["no order 3f1c…"])


PROBLEM_SCHEMA: dict[str, Any] = Problem.model_json_schema()


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` documenting `statuses` (and EVERY_ROUTE's) as problem+json; a
    status below 400 (a 304) is documented without a body."""
    return {
        status: {"description": HTTPStatus(status).phrase}
        if status < 400
        else {
            "description": HTTPStatus(status).phrase,
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        for status in sorted({*EVERY_ROUTE, *statuses})
    }
