"""Counting requests against rate-limit windows shared by every instance.

A fixed window that starts at a client's first request, counted in
PostgreSQL with one upsert per request, so the limit holds exactly across
instances. Callers are counted per API key; traffic without a valid key per
client address.
"""

from __future__ import annotations

from docgraph.db import rate_limits
from docgraph.db.database import Database
from docgraph.db.rate_limits import Hit
from docgraph.resolvers.auth import Principal

__all__ = ["Hit", "count_for_address", "count_for_key"]


async def count_for_key(db: Database, principal: Principal, *, cost: int, limit: int,
                        window_seconds: int) -> Hit:
    """Count ``cost`` requests against the key's window (``limit`` unless the key has its own)."""
    return await rate_limits.hit(db, f"k:{principal.key_id}", cost=cost, limit=limit,
                                 window_seconds=window_seconds)


async def count_for_address(db: Database, address: str, *, limit: int,
                            window_seconds: int) -> Hit:
    """Count one request without a valid key against its client address's window."""
    return await rate_limits.hit(db, f"a:{address}", cost=1, limit=limit,
                                 window_seconds=window_seconds)
