"""How many requests a worker works on at once; the rest wait in arrival order.

A worker is one thread. Past a few requests in progress, more only add
statements queued in the database and tasks queued on the event loop, and
they finish in no particular order: whichever are served last set the tail
latency, and on a machine PostgreSQL shares, each busy backend takes CPU
from the workers. So a worker admits at most ``DOCGRAPH_MAX_ACTIVE_REQUESTS``
at a time; later ones wait in a queue served first come, first served
(``asyncio.Semaphore`` wakes its waiters in order). One that waits more than
``DOCGRAPH_QUEUE_TIMEOUT_SECONDS`` is answered 503 ``unavailable`` with
``Retry-After``, so an overloaded worker sheds load instead of piling it up.

Health checks, metrics scrapes and signed storage transfers never wait: the
first two must answer however busy the worker is, and the last stream bytes
for as long as a client takes to send them.

An ``observer`` (the metrics, when they are on) hears of the requests that
had to wait, and only of them: a request that finds a turn free costs it
nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from docgraph.errors import Unavailable
from docgraph.http.paths import STORAGE_PREFIX


class AdmissionObserver(Protocol):
    """Hears of the requests that wait for their turn."""

    def queued(self) -> None:
        """A request found every turn taken and waits."""

    def left_queue(self, waited: float, admitted: bool) -> None:
        """It stopped waiting after ``waited`` seconds: admitted, or not (timed out, gone)."""


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int, queue_timeout: float,
                 exempt_paths: frozenset[str],
                 exempt_prefixes: tuple[str, ...] = (STORAGE_PREFIX,),
                 observer: AdmissionObserver | None = None) -> None:
        self.app = app
        self.queue_timeout = queue_timeout
        self.exempt_paths = exempt_paths
        self.exempt_prefixes = exempt_prefixes
        self.observer = observer
        self._turns = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or path in self.exempt_paths
                or path.startswith(self.exempt_prefixes)):
            await self.app(scope, receive, send)
            return
        turns = self._turns
        if turns.locked():
            observer = self.observer
            if observer is not None:
                observer.queued()
                started = time.perf_counter()
            admitted = False
            try:
                async with asyncio.timeout(self.queue_timeout):
                    await turns.acquire()
                admitted = True
            except TimeoutError:
                raise Unavailable(
                    "The server is busy: this request waited its turn for longer than "
                    f"{self.queue_timeout:g} s. Retry shortly.",
                    details={"queue_timeout_seconds": self.queue_timeout}) from None
            finally:
                if observer is not None:
                    observer.left_queue(time.perf_counter() - started, admitted)
        else:
            await turns.acquire()  # a turn is free: returns at once
        try:
            await self.app(scope, receive, send)
        finally:
            turns.release()
