"""``LISTEN`` on a dedicated connection: PostgreSQL's notifications, for one process.

A pooled connection cannot listen (it serves other statements, and the pool
resets nothing between them), so a :class:`Listener` holds a connection of
its own for as long as it runs. It hands each notification's payload to
``on_notify``, and calls ``on_connect`` each time it (re)connects: anything
notified while it was not listening is lost, so what it wakes must then read
again, whatever it had heard. A connection that is closed, fails, or stops
answering (checked every ``check_seconds``) is replaced, after a wait that
doubles from ``RETRY_MIN_SECONDS`` up to ``RETRY_MAX_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from docgraph.db.database import UNAVAILABLE_ERRORS

log = logging.getLogger("docgraph.db.notifications")

RETRY_MIN_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0
CHECK_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0


class Listener:
    """One connection that listens on ``channel`` while :meth:`run` runs."""

    def __init__(self, url: str, channel: str, *, on_notify: Callable[[str], None],
                 on_connect: Callable[[], None], check_seconds: float = CHECK_SECONDS,
                 application_name: str = "docgraph-listener") -> None:
        self.url = url
        self.channel = channel
        self.on_notify = on_notify
        self.on_connect = on_connect
        self.check_seconds = check_seconds
        self.application_name = application_name
        # Set while a connection listens (tests and readiness may wait for it).
        self.listening = asyncio.Event()
        # How many times a connection started listening (the first included).
        self.connections = 0

    async def run(self) -> None:
        """Listen until cancelled, reconnecting whenever the connection is lost."""
        wait = RETRY_MIN_SECONDS
        while True:
            try:
                await self._listen_once()
                wait = RETRY_MIN_SECONDS  # it listened, then lost the connection
            except asyncio.CancelledError:
                raise
            except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
                log.warning("listening on %s failed (%s); retrying in %.1f s", self.channel,
                            exc.__class__.__name__, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, RETRY_MAX_SECONDS)

    async def _listen_once(self) -> None:
        """Connect, listen, and return once the connection is lost."""
        lost = asyncio.Event()
        conn: asyncpg.Connection = await asyncpg.connect(
            self.url, timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={"application_name": self.application_name})
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(self.channel, self._notified)
            self.connections += 1
            self.listening.set()
            self.on_connect()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.check_seconds)
                if not lost.is_set():
                    # A connection whose server vanished without a word (a network cut)
                    # looks alive until a statement fails to come back.
                    await asyncio.wait_for(conn.fetchval("select 1"), self.check_seconds)
            log.warning("the connection listening on %s was lost", self.channel)
        finally:
            self.listening.clear()
            conn.terminate()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self.on_notify(payload)
        except Exception:
            log.exception("handling a notification on %s failed", self.channel)
