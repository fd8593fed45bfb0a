"""`GET /v1/invoices` and `GET /v1/invoices/{id}`: the caller's invoices for clients."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from tessera.http.openapi import problem_responses

from billing_service.api.deps import InvoiceReader, InvoicesDep

router = APIRouter(prefix="/v1/invoices", tags=["invoices"], responses=problem_responses(404))


class InvoiceOut(BaseModel):
    """An invoice as clients see it (read from the domain's `Invoice`)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    order_id: str
    user_id: str
    amount_cents: int
    currency: str
    status: str
    created_at: datetime


class InvoiceList(BaseModel):
    """One page of the caller's invoices, newest first."""

    items: list[InvoiceOut]
    next_page_token: str


@router.get("")
async def list_invoices(
    caller: InvoiceReader,
    use_cases: InvoicesDep,
    page_size: int = Query(default=0, ge=0, description="0 = default; capped by the server"),
    page_token: str = Query(
        default="",
        max_length=512,
        description="Empty for the first page, else the `next_page_token` of the page before, "
        "as given: any other value is refused with 422.",
    ),
) -> InvoiceList:
    page = await use_cases.list(caller, page_size=page_size, page_token=page_token)
    items = [InvoiceOut.model_validate(invoice) for invoice in page.invoices]
    return InvoiceList(items=items, next_page_token=page.next_page_token)


@router.get("/{invoice_id}")
async def get_invoice(invoice_id: str, caller: InvoiceReader, use_cases: InvoicesDep) -> InvoiceOut:
    return InvoiceOut.model_validate(await use_cases.get(caller, invoice_id))
