"""Draining: the moment a server stops taking connections, for answers that would hold it open.

On SIGTERM uvicorn stops accepting, then waits (up to its graceful timeout) for every open
request before it runs the lifespan down. A long poll is an open request by design: auth's
revocation watch holds each watcher's request for up to 30 s, so auth sat out its whole graceful
timeout and was then killed. `tessera.service_cli.serve` starts draining as shutdown begins;
what registered with `on_start` ends its answers then (the watch answers an empty page, and its
client re-watches another replica, or this one once restarted), and `/readyz` answers 503 so a
load balancer sends nothing new.

    draining = draining_of(app)
    draining.on_start(feed.close)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI

logger = logging.getLogger(__name__)


class Draining:
    """Callbacks run once, when the server begins its graceful shutdown."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []
        self.started = False

    def on_start(self, callback: Callable[[], None]) -> None:
        """Run `callback` when draining starts (at once if it already has)."""
        self._callbacks.append(callback)
        if self.started:
            callback()

    def start(self) -> None:
        """Begin draining; idempotent. A failing callback is logged; the others still run."""
        if self.started:
            return
        self.started = True
        for callback in self._callbacks:
            try:
                callback()
            except Exception:
                logger.exception("A draining callback failed")


def draining_of(app: object) -> Draining | None:
    """The `Draining` of a Tessera app (`install_service_defaults` gives it one), else None."""
    state = getattr(app, "state", None)
    draining = getattr(state, "draining", None)
    return draining if isinstance(draining, Draining) else None


def install_draining(app: FastAPI) -> Draining:
    """Give `app` its `Draining` (`app.state.draining`)."""
    draining = Draining()
    app.state.draining = draining
    return draining
