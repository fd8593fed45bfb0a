"""SQLAlchemy models of the orders service's own tables (billing's are never read here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from tessera.storage import UtcDateTime


class Base(DeclarativeBase):
    """Metadata of the orders tables (Alembic migrations are written from it, never create_all)."""


class OrderRow(Base):
    """One order; `total_cents` is stored so lists need not join the lines."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_owner_created", "owner_id", "created_at"),
        Index("ix_orders_status_created", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    invoice_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lines: Mapped[list[OrderLineRow]] = relationship(
        order_by="OrderLineRow.position", lazy="selectin", cascade="all, delete-orphan"
    )


class OrderLineRow(Base):
    """One item of an order, in the order the client listed them."""

    __tablename__ = "order_lines"

    order_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)


class IdempotencyKeyRow(Base):
    """A client's Idempotency-Key: its primary key (owner, key) is the unique constraint that
    lets exactly one of concurrent submissions store an order."""

    __tablename__ = "idempotency_keys"

    owner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(36), ForeignKey("orders.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    answer_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answer_headers: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON list of [name, value] pairs."""
    answer_body: Mapped[str | None] = mapped_column(Text, nullable=True)


class PendingChargeRow(Base):
    """The charge of a `payment_pending` order, for the reconciler: the sealed billing token
    its request obtained (`adapters/charge_tokens.py`), and when to try again. Deleted in the
    transaction that moves the order out of `payment_pending`."""

    __tablename__ = "pending_charges"
    __table_args__ = (Index("ix_pending_charges_next_attempt", "next_attempt_at"),)

    order_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    sealed_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
