"""The payment reconciler: settles `payment_pending` orders in the background.

Every `PAYMENT_RECONCILE_INTERVAL_SECONDS` each replica exports how many orders are pending
and how old the oldest is; the replica elected for the round (`tessera.storage.elected`, a
PostgreSQL advisory lock) then tries each due charge once (`Orders.settle_due`): with the
order's own billing token, the order id as idempotency key (never a second charge), and
backoff between attempts (`domain/payments.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine
from tessera.background import BackgroundTask
from tessera.storage import elected

from orders_service.use_cases import Orders

logger = logging.getLogger(__name__)

# pg_try_advisory_lock key electing the round's runner: the ASCII of "tsreconc".
RECONCILER_LOCK_KEY = 0x7473_7265_636F_6E63

PENDING_ORDERS = Gauge("orders_payment_pending", "Orders whose charge has not settled yet")
OLDEST_PENDING_AGE = Gauge(
    "orders_payment_pending_oldest_age_seconds", "Age of the oldest payment_pending order"
)
SETTLE_ATTEMPTS = Counter(
    "orders_payment_settle_attempts_total",
    "Reconciler attempts at a pending charge, by how they ended",
    ["outcome"],
)


class PaymentReconciler:
    """Runs `Orders.settle_due` every `interval_seconds` on the elected replica."""

    def __init__(
        self,
        engine: AsyncEngine,
        orders: Orders,
        *,
        interval_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._orders = orders
        self._interval = interval_seconds
        self._clock = clock
        self._loop = BackgroundTask("orders-payment-reconciler", self._run)

    async def run_once(self) -> bool:
        """One round; False when another replica runs it."""
        summary = await self._orders.store.pending_summary()
        PENDING_ORDERS.set(summary.count)
        oldest = summary.oldest_created_at
        OLDEST_PENDING_AGE.set(0 if oldest is None else self._clock() - oldest.timestamp())
        async with elected(self._engine, RECONCILER_LOCK_KEY) as won:
            if not won:
                return False
            outcomes = await self._orders.settle_due()
        for outcome, count in outcomes.items():
            SETTLE_ATTEMPTS.labels(outcome).inc(count)
        if outcomes:
            logger.info("Pending payments tried", extra={"outcomes": outcomes})
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception:  # the database or billing is away: the next round tries again
                logger.warning("Payment reconciler round failed", exc_info=True)

    def start(self) -> None:
        self._loop.start()

    async def aclose(self) -> None:
        await self._loop.stop()
