"""Persisted GraphQL operations: a document's text under its SHA-256, shared by instances."""

from __future__ import annotations

from docgraph.db.database import Database

SELECT_SOURCE = "select source from persisted_operations where sha256 = $1"
# The first registration wins; the text is the same anyway (its hash is the key).
INSERT = """
insert into persisted_operations (sha256, source) values ($1, $2)
on conflict (sha256) do nothing
"""
# In batches, skipping rows another instance is purging at the same moment.
PURGE_OLDER_THAN = """
delete from persisted_operations
where sha256 in (
    select sha256 from persisted_operations
    where created_at < now() - make_interval(secs => $1::float8)
    limit $2
    for update skip locked
)
"""
PURGE_BATCH = 1000


async def source(db: Database, sha256: str) -> str | None:
    """The text registered under ``sha256``, if any."""
    value = await db.fetchval(SELECT_SOURCE, sha256)
    return value if isinstance(value, str) else None


async def insert(db: Database, sha256: str, text: str) -> None:
    await db.execute(INSERT, sha256, text)


async def purge_older_than(db: Database, seconds: float) -> int:
    """Delete registrations older than ``seconds``; how many went."""
    total = 0
    while True:
        status = await db.execute(PURGE_OLDER_THAN, float(seconds), PURGE_BATCH)
        deleted = int(status.split()[-1])
        total += deleted
        if deleted < PURGE_BATCH:
            return total
