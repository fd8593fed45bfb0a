"""Dependencies of billing's routes, as Annotated aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from tessera import Principal, require_scopes

from billing_service.adapters.ledgers import Ledgers
from billing_service.domain.ledger import Ledger


async def _ledger(request: Request) -> AsyncIterator[Ledger]:
    ledgers: Ledgers = request.app.state.ledgers
    async with ledgers.transaction() as ledger:
        yield ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]
"""The billing use cases on one transaction for this request."""

InvoiceReader = Annotated[Principal, Depends(require_scopes("invoices:read"))]
"""A verified caller with `invoices:read` (401/403 otherwise)."""
