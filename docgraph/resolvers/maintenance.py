"""Housekeeping and health: expired shared state, the store's readiness, the database's.

Purging is safe on several instances at once: the deletes skip rows another
instance is deleting, so running them twice is merely redundant.
"""

from __future__ import annotations

from docgraph.db import idempotency, rate_limits
from docgraph.db.database import Database, ping
from docgraph.storage.base import ObjectStore


async def purge_expired(db: Database) -> dict[str, int]:
    """Delete expired idempotency records and rate-limit windows that ended."""
    return {"idempotency_records": await idempotency.purge_expired(db),
            "rate_limit_windows": await rate_limits.purge_ended_windows(db)}


async def database_ready(db: Database) -> bool:
    """Whether the database answers, within two seconds."""
    return await ping(db)


async def prepare_storage(store: ObjectStore) -> None:
    """Make the store ready to serve (create the bucket when missing); ``Unavailable`` if not."""
    await store.ready()
