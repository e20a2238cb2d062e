"""LISTEN on a connection of its own: what wakes the webhook workers at once.

asyncpg delivers a notification to the connection that listens for it; a
pooled connection would be handed to requests (and reset) in between, so the
listener keeps a connection of its own, outside the pool, for as long as it
runs. A lost connection is opened again (with a pause), and ``on_connect`` is
called each time it is (re)connected: notifications sent while it was away are
lost, so whoever listens reads what it may have missed then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import asyncpg

from docgraph.db.database import UNAVAILABLE_ERRORS

log = logging.getLogger("docgraph.db.listen")

RECONNECT_SECONDS = 2.0
CONNECT_TIMEOUT = 5.0


async def listen(url: str, channels: Sequence[str], on_notify: Callable[[str, str], None],
                 on_connect: Callable[[], None]) -> None:
    """Listen on ``channels`` until cancelled: ``on_notify(channel, payload)`` for each
    notification, ``on_connect()`` after each (re)connection."""
    while True:
        conn: asyncpg.Connection | None = None
        lost = asyncio.Event()
        try:
            conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT,
                                         server_settings={"application_name":
                                                          "docgraph-listen"})
            conn.add_termination_listener(lambda _conn, lost=lost: lost.set())

            def notified(_conn: object, _pid: int, channel: str, payload: object) -> None:
                on_notify(channel, str(payload))

            for channel in channels:
                await conn.add_listener(channel, notified)
            on_connect()
            await lost.wait()
            log.warning("the listening connection was lost; reconnecting")
        except asyncio.CancelledError:
            raise
        except UNAVAILABLE_ERRORS as exc:
            log.warning("cannot listen for notifications (%s); retrying",
                        exc.__class__.__name__)
        except asyncpg.PostgresError as exc:
            log.warning("cannot listen for notifications (%s); retrying", exc)
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2.0)
        await asyncio.sleep(RECONNECT_SECONDS)
