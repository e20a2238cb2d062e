"""Housekeeping and health: expired shared state, the store's readiness, the database's.

Purging is safe on several instances at once: the deletes skip rows another
instance is deleting, so running them twice is merely redundant.
"""

from __future__ import annotations

from docgraph.db import idempotency, persisted_operations, rate_limits
from docgraph.db.database import Database, ping
from docgraph.resolvers.events import purge_old_events
from docgraph.resolvers.webhook_delivery import purge_old_deliveries
from docgraph.storage.base import ObjectStore


async def purge_expired(db: Database, *,
                        event_retention_days: int | None = None,
                        persisted_operations_seconds: float | None = None) -> dict[str, int]:
    """Delete expired idempotency records, rate-limit windows that ended and, given
    their retentions, events (and webhook deliveries) older than
    ``event_retention_days`` and persisted
    operations registered longer ago than ``persisted_operations_seconds``, in
    bounded batches."""
    purged = {"idempotency_records": await idempotency.purge_expired(db),
              "rate_limit_windows": await rate_limits.purge_ended_windows(db)}
    if event_retention_days is not None:
        purged["events"] = await purge_old_events(db, event_retention_days)
        purged["webhook_deliveries"] = await purge_old_deliveries(db, event_retention_days)
    if persisted_operations_seconds is not None:
        purged["persisted_operations"] = await persisted_operations.purge_older_than(
            db, persisted_operations_seconds)
    return purged


async def database_ready(db: Database) -> bool:
    """Whether the database answers, within two seconds."""
    return await ping(db)


async def prepare_storage(store: ObjectStore) -> None:
    """Make the store ready to serve (create the bucket when missing); ``Unavailable`` if not."""
    await store.ready()
