"""Idempotency records: claim a key, keep the first response, replay it."""

from __future__ import annotations

import dataclasses
import uuid

from docgraph.db.database import Database

# Claims (workspace, API key, Idempotency-Key) for a new attempt. It succeeds (returns the row)
# when the key is new, when its record expired, or when the attempt holding it
# never finished (its lease ran out: its instance died) and this is the same
# request. Otherwise it returns nothing and the caller reads the record.
CLAIM = """
insert into idempotency_records as r
    (workspace_id, api_key_id, key, fingerprint, attempt, locked_until, expires_at)
values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6::float8),
        now() + make_interval(secs => $7::float8))
on conflict (workspace_id, api_key_id, key) do update set
    fingerprint = excluded.fingerprint,
    attempt = excluded.attempt,
    locked_until = excluded.locked_until,
    status = null,
    headers = null,
    body = null,
    created_at = now(),
    expires_at = excluded.expires_at
where r.expires_at <= now()
   or (r.status is null and r.locked_until <= now() and r.fingerprint = excluded.fingerprint)
returning attempt
"""
SELECT_RECORD = """
select fingerprint, status, headers, body from idempotency_records
where workspace_id = $1 and api_key_id = $2 and key = $3 and expires_at > now()
"""
COMPLETE = """
update idempotency_records set status = $5, headers = $6, body = $7, locked_until = null
where workspace_id = $1 and api_key_id = $2 and key = $3 and attempt = $4
"""
RELEASE = """
delete from idempotency_records
where workspace_id = $1 and api_key_id = $2 and key = $3 and attempt = $4
"""
# In batches, skipping rows another instance is purging (or a request is
# reclaiming) at the same moment, so instances can purge concurrently.
PURGE_EXPIRED = """
delete from idempotency_records
where (workspace_id, api_key_id, key) in (
    select workspace_id, api_key_id, key from idempotency_records
    where expires_at <= now()
    limit $1
    for update skip locked
)
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    fingerprint: bytes
    status: int | None
    headers: list[list[str]] | None
    body: bytes | None


async def claim(db: Database, workspace_id: uuid.UUID, api_key_id: uuid.UUID, key: str,
                fingerprint: bytes, attempt: uuid.UUID, *, lease_seconds: float,
                retention_seconds: int) -> bool:
    row = await db.fetchrow(CLAIM, workspace_id, api_key_id, key, fingerprint, attempt,
                            float(lease_seconds), float(retention_seconds))
    return row is not None


async def get_record(db: Database, workspace_id: uuid.UUID, api_key_id: uuid.UUID,
                     key: str) -> Record | None:
    row = await db.fetchrow(SELECT_RECORD, workspace_id, api_key_id, key)
    if row is None:
        return None
    return Record(fingerprint=row["fingerprint"], status=row["status"],
                  headers=row["headers"], body=row["body"])


async def complete(db: Database, workspace_id: uuid.UUID, api_key_id: uuid.UUID, key: str,
                   attempt: uuid.UUID, *, status: int, headers: list[list[str]],
                   body: bytes) -> bool:
    result = await db.execute(COMPLETE, workspace_id, api_key_id, key, attempt, status,
                              headers, body)
    return result == "UPDATE 1"


async def release(db: Database, workspace_id: uuid.UUID, api_key_id: uuid.UUID, key: str,
                  attempt: uuid.UUID) -> None:
    await db.execute(RELEASE, workspace_id, api_key_id, key, attempt)


async def purge_expired(db: Database, batch: int = 1000) -> int:
    """Delete expired records; return how many."""
    total = 0
    while True:
        deleted = int((await db.execute(PURGE_EXPIRED, batch)).split()[-1])
        total += deleted
        if deleted < batch:
            return total
