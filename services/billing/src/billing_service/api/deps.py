"""Dependencies of billing's routes, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from tessera import Principal, require_scopes

from billing_service.use_cases import Invoices


def _invoices(request: Request) -> Invoices:
    use_cases: Invoices = request.app.state.invoices
    return use_cases


InvoicesDep = Annotated[Invoices, Depends(_invoices)]
"""The billing use cases (each call is one transaction)."""

InvoiceReader = Annotated[Principal, Depends(require_scopes("invoices:read"))]
"""A verified caller with `invoices:read` (401/403 otherwise)."""
