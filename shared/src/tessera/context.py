"""Per-request context shared by HTTP and gRPC plumbing, logging and services.

Both variables are set by the framework glue (the request-id middleware, the FastAPI
dependency, the gRPC server interceptor) and read by logging and by outgoing calls, so the
request id and the caller's identity follow a request without being passed by hand.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tessera.tokens.principal import Principal

request_id_var: ContextVar[str | None] = ContextVar("tessera_request_id", default=None)
"""The id of the request being served (HTTP `X-Request-ID`, gRPC `x-request-id`)."""

current_principal_var: ContextVar[Principal | None] = ContextVar(
    "tessera_current_principal", default=None
)
"""The verified caller of the request being served, once authentication has run."""
