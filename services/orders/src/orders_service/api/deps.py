"""Dependencies of the orders routes, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from tessera import Principal, require_scopes

from orders_service.use_cases import Orders


def _orders(request: Request) -> Orders:
    use_cases: Orders = request.app.state.orders
    return use_cases


OrdersDep = Annotated[Orders, Depends(_orders)]
"""The orders use cases, wired in the lifespan."""

OrderReader = Annotated[Principal, Depends(require_scopes("orders:read"))]
"""A verified caller with `orders:read` (401/403 otherwise)."""

OrderWriter = Annotated[Principal, Depends(require_scopes("orders:write"))]
"""A verified caller with `orders:write` (401/403 otherwise)."""
