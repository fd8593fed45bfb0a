"""SQLAlchemy models of billing's own tables (no other service reads them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from tessera.storage import UtcDateTime


class Base(DeclarativeBase):
    """Metadata of billing's tables (Alembic migrations are written from it, never create_all)."""


class InvoiceRow(Base):
    """One invoice; (user_id, idempotency_key) is unique, which makes Charge idempotent."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_invoices_user_idempotency_key"),
        Index("ix_invoices_user_created", "user_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    refunded_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    refund_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
