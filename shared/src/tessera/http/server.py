"""How a service is served: uvicorn, stopped the way a supervisor expects.

On SIGTERM or SIGINT the server stops accepting, starts draining (`tessera.http.draining`: long
polls answer now), lets open requests finish for up to the graceful timeout, runs the lifespan
down and exits 0. Two things differ from plain uvicorn, and `DrainingServer` says why; a third,
the exit itself, `end_process_now`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

import uvicorn
from uvicorn.server import HANDLED_SIGNALS

from tessera.http.draining import Draining, draining_of
from tessera.keep_alive import SERVER_KEEP_ALIVE_SECONDS
from tessera.settings import ServiceSettings


class DrainingServer(uvicorn.Server):
    """uvicorn's server with two changes for a service under a supervisor.

    - Draining starts as shutdown does, before uvicorn waits for open requests, so a long poll
      answers at once instead of holding the process for the whole graceful timeout (auth
      took ~14 s to restart, and was killed, while orders and billing watched its feed).
    - A stop on SIGTERM/SIGINT exits 0: uvicorn re-raises the signal after its graceful
      shutdown, so every clean stop looked like a kill (-15) to the launcher and compose.
    """

    def __init__(self, config: uvicorn.Config, draining: Draining | None) -> None:
        super().__init__(config)
        self._draining = draining

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._draining is not None:
            self._draining.start()
        await super().shutdown(sockets)


def end_process_now(server: uvicorn.Server) -> NoReturn:
    """End the process once `server` has stopped, without the interpreter's teardown.

    After a graceful stop the lifespan has closed the pools, clients and background tasks and
    nothing is left to clean; yet unloading some 1,200 modules (auth's) took 0.4 to 1.1 s after
    every stop, longer than the stop itself, and `make run`'s Ctrl-C waited for it. The logs and
    the standard streams are flushed first, so no line is lost. A forced stop (a second signal:
    the lifespan's shutdown skipped) or a server that never started exits 1, never as clean.
    """
    clean = server.started and not server.force_exit
    if not clean:
        logging.getLogger(__name__).warning("stopped without a graceful shutdown")
    logging.shutdown()
    with contextlib.suppress(OSError):  # the reader of our output may be gone already
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0 if clean else 1)


def serve_until_stopped(
    app: Any, settings: ServiceSettings, *, graceful_shutdown_seconds: int
) -> NoReturn:
    """Serve `app` on the settings' host and port until SIGTERM/SIGINT, then exit 0."""
    config = uvicorn.Config(
        app,
        host=settings.HTTP_HOST,
        port=settings.HTTP_PORT,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,  # tessera.http.forwarded decides who the caller is
        log_config=None,
        access_log=False,  # tessera's middleware writes the JSON access log
        timeout_graceful_shutdown=graceful_shutdown_seconds,
        timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,  # clients drop theirs sooner
    )
    server = DrainingServer(config, draining_of(app))
    server.run()
    end_process_now(server)
