"""The mail worker: works the outbox off, on every replica (claims keep attempts single).

Each round claims the due entries (`MailQueue.claim_due`) and, for each:

- a request (a password reset, a resent verification, a registration warning) is resolved in
  one transaction into a mail and its token, or into nothing (`use_cases/mailing.py`);
- a mail whose token has expired is never sent: it is marked `expired`;
- any other mail is sent over SMTP: `sent` (its body wiped), or retried with backoff (2 s,
  4 s, ... 5 min) while the server is away, and `failed` after `MAX_MAIL_AGE`.

A commit that adds an entry wakes the worker at once (`wake`); otherwise it looks every
`MAIL_POLL_SECONDS`, which is how other replicas' entries and retries are picked up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge
from tessera.background import BackgroundTask, wait_for_event

from auth_service.adapters.mail_outbox import ClaimedEntry, MailQueue
from auth_service.adapters.smtp_sender import MailDeliveryError, SmtpSender
from auth_service.domain.mail import MailRequestKind
from auth_service.domain.ports import UnitsOfWork
from auth_service.use_cases.mailing import MailRequests

logger = logging.getLogger(__name__)

MAX_MAIL_AGE = timedelta(days=3)
MAX_RETRY_DELAY = timedelta(minutes=5)
BATCH = 1
"""Entries claimed per round: one, so its claim (60 s) always outlives its send (at most 15 s)
and no other replica takes it meanwhile; the loop goes on at once while rounds find work."""

MAILS = Counter(
    "auth_mail_outbox_total", "Outbox entries finished, by kind and outcome", ["kind", "outcome"]
)
DELIVERY_FAILURES = Counter("auth_mail_delivery_failures_total", "SMTP attempts that failed")
PENDING = Gauge("auth_mail_outbox_pending", "Outbox entries not yet sent, resolved or given up")


def retry_delay(attempts: int) -> timedelta:
    return min(timedelta(seconds=2**attempts), MAX_RETRY_DELAY)


class MailWorker:
    """Sends the outbox's mails; see the module docstring."""

    def __init__(
        self,
        queue: MailQueue,
        units_of_work: UnitsOfWork,
        requests: MailRequests,
        sender: SmtpSender,
        *,
        clock: Callable[[], datetime],
        poll_seconds: float,
    ) -> None:
        self._queue = queue
        self._units_of_work = units_of_work
        self._requests = requests
        self._sender = sender
        self._clock = clock
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._loop = BackgroundTask("auth-mail-worker", self._run)

    def wake(self) -> None:
        """Look at the outbox now (a commit just added to it)."""
        self._wake.set()

    def start(self) -> None:
        self._loop.start()

    async def aclose(self) -> None:
        await self._loop.stop()

    async def run_once(self) -> int:
        """One round; how many entries it finished or rescheduled. The pending gauge is counted
        when a round finds nothing due (once per burst, not once per mail)."""
        claimed = await self._queue.claim_due(self._clock(), limit=BATCH)
        for item in claimed:
            await self._handle(item)
        if not claimed:
            PENDING.set(await self._queue.pending())
        return len(claimed)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                busy = await self.run_once()
            except Exception:  # the database is away: the next round tries again
                logger.warning("Mail worker round failed", exc_info=True)
                busy = 0
            if not busy:
                await wait_for_event(self._wake, self._poll)

    async def _handle(self, item: ClaimedEntry) -> None:
        entry, now = item.entry, self._clock()
        if entry is None:
            logger.error(
                "An outbox entry cannot be opened (key changed?)", extra={"id": str(item.id)}
            )
            await self._finish(item, "unknown", "failed")
            return
        kind = entry.kind.value
        if isinstance(entry.kind, MailRequestKind):
            async with self._units_of_work() as uow:
                mail = await self._requests.resolve(uow, entry.kind, entry.address or "")
                if mail is not None:
                    await uow.outbox.add(mail)
                await uow.outbox.close_request(item.id, resolved=mail is not None)
                await uow.commit()
            MAILS.labels(kind, "resolved" if mail is not None else "dropped").inc()
            return
        if entry.expires_at is not None and now >= entry.expires_at:
            await self._finish(item, kind, "expired")  # its link would not work any more
            return
        assert entry.mail is not None
        try:
            await self._sender.send(entry.mail)
        except Exception as error:  # any failure is retried, then given up
            DELIVERY_FAILURES.inc()
            if not isinstance(error, MailDeliveryError):
                logger.error("Mail send failed unexpectedly", exc_info=True)
            attempts = item.attempts + 1
            if now - entry.created_at > MAX_MAIL_AGE:
                await self._finish(item, kind, "failed")
                return
            reason = str(error) if isinstance(error, MailDeliveryError) else type(error).__name__
            logger.warning(
                "Mail not delivered; retrying",
                extra={"id": str(item.id), "kind": kind, "error": reason, "attempts": attempts},
            )
            await self._queue.retry_later(
                item.id, attempts=attempts, at=now + retry_delay(attempts), error=reason
            )
            return
        await self._finish(item, kind, "sent")
        logger.info("Mail sent", extra={"id": str(item.id), "kind": kind})

    async def _finish(self, item: ClaimedEntry, kind: str, outcome: str) -> None:
        await self._queue.finish(item.id, status=outcome, now=self._clock())
        MAILS.labels(kind, outcome).inc()
