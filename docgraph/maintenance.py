"""Housekeeping every instance runs: deleting expired shared state.

Each instance purges on its own schedule (jittered, so instances drift
apart); the deletes skip rows another instance is deleting, so running them
on several instances at once is safe and merely redundant.
"""

from __future__ import annotations

import asyncio
import logging
import random

from docgraph.db import idempotency, rate_limits
from docgraph.db.database import Database
from docgraph.errors import Unavailable

log = logging.getLogger("docgraph.maintenance")


async def purge_expired(db: Database) -> dict[str, int]:
    """Delete expired idempotency records and rate-limit windows that ended."""
    return {"idempotency_records": await idempotency.purge_expired(db),
            "rate_limit_windows": await rate_limits.purge_ended_windows(db)}


async def purge_periodically(db: Database, interval_seconds: float) -> None:
    while True:
        await asyncio.sleep(interval_seconds * random.uniform(0.5, 1.5))  # noqa: S311
        try:
            purged = await purge_expired(db)
        except Unavailable:
            log.warning("purge skipped: the database is unavailable")
            continue
        except Exception:
            log.exception("purge failed")
            continue
        if any(purged.values()):
            log.info("purged expired shared state", extra={"purged": purged})
