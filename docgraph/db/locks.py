"""Session-level advisory locks: one instance at a time does a shared chore."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from docgraph.db.database import Database

# Arbitrary constants shared by every docgraph instance (the migrations use another).
SWEEP_LOCK_KEY = 0x646F637377656570  # "docsweep" in ASCII

TRY_LOCK = "select pg_try_advisory_lock($1)"
UNLOCK = "select pg_advisory_unlock($1)"


@contextlib.asynccontextmanager
async def try_advisory_lock(db: Database, key: int) -> AsyncIterator[bool]:
    """Hold the lock ``key`` for the block if no other session holds it; yields whether it does.

    The lock lives on one pooled connection, kept for the block's duration;
    if that connection dies, PostgreSQL releases the lock with it.
    """
    async with db.connection() as conn:
        acquired = bool(await conn.fetchval(TRY_LOCK, key))
        try:
            yield acquired
        finally:
            if acquired:
                await conn.fetchval(UNLOCK, key)
