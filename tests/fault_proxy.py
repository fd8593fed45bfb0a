"""A TCP proxy on loopback that can lose answers or go away: the network fault between two real
processes.

    with FaultProxy(upstream=("127.0.0.1", 50051)) as proxy:   # listens on proxy.address
        proxy.lose_answers()   # requests still reach upstream; its answers are swallowed
        ...
        proxy.heal()           # cuts the connections the fault corrupted; new ones pass
        proxy.cut()            # upstream unreachable: open connections close, new ones too
        proxy.heal()

It forwards bytes both ways, in its own thread and event loop. While answers are lost,
everything upstream sends back is dropped, so the caller times out after upstream has done the
work: the "billing charged, the answer never arrived" case. Healing closes the connections
that dropped bytes (their HTTP/2 state is broken), and the caller reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Self


class FaultProxy:
    def __init__(self, *, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._losing = False
        self._cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self.address = ""
        self.answers_lost = 0

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def lose_answers(self) -> None:
        self._losing = True

    def cut(self) -> None:
        """Upstream is unreachable from now: close every connection, and each new one at once."""
        self._cut = True
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(10)

    def heal(self) -> None:
        """Stop losing answers and close every connection open now (the caller reconnects)."""
        self._losing = False
        self._cut = False
        future = asyncio.run_coroutine_threadsafe(self._close_all(), self._loop)
        future.result(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", 0)
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        self.address = f"{host}:{port}"
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            self._loop.run_until_complete(self._close_all())
            self._loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer, answers=False),
            self._pipe(upstream_reader, writer, answers=True),
            return_exceptions=True,
        )
        for end in (writer, upstream_writer):
            self._writers.discard(end)
            end.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, answers: bool
    ) -> None:
        while data := await reader.read(65536):
            if answers and self._losing:
                self.answers_lost += len(data)
                continue
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _close_all(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.close()
        self._writers.clear()
