"""Pending uploads: signed upload URLs handed out and not yet recorded as documents."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from docgraph.db.database import Connection, Database

# Reserve an upload's bytes against the quota and record it, in one statement.
# The update's condition is re-checked against the latest row version when
# requests race (READ COMMITTED), so the quota holds; and the row lock lasts
# only for this statement. Nothing is inserted when the quota would be passed.
RESERVE_UPLOAD = """
with reserved as (
    update workspaces set pending_bytes = pending_bytes + $6
    where id = $1 and quota_bytes - used_bytes - pending_bytes >= $6
    returning id
), inserted as (
    insert into uploads (workspace_id, id, storage_path, file_name, mime_type, size_bytes,
                         checksum_sha256, expires_at)
    select $1, $2, $3, $4, $5, $6, $7, $8 from reserved
    returning id
)
select exists (select from inserted)
"""
SELECT_USAGE = """
select quota_bytes, used_bytes, pending_bytes from workspaces where id = $1
"""
SELECT_UPLOAD = """
select workspace_id, id, storage_path, file_name, mime_type, size_bytes, checksum_sha256,
       created_at, expires_at
from uploads
where workspace_id = $1 and storage_path = $2
"""
LOCK_UPLOADS_CREATED_BEFORE = """
select workspace_id, id, storage_path from uploads
where created_at < $1
order by created_at
limit $2
for update skip locked
"""
LOCK_UNSEEN_UPLOADS_EXPIRED_BEFORE = """
select workspace_id, id, storage_path from uploads
where expires_at < $1 and arrived_at is null
order by expires_at
limit $2
for update skip locked
"""
MARK_ARRIVED = """
update uploads u set arrived_at = now()
from unnest($1::uuid[], $2::uuid[]) as seen (workspace_id, id)
where u.workspace_id = seen.workspace_id and u.id = seen.id
"""
# Forgetting uploads gives their bytes back to their workspaces' quotas.
DELETE_UPLOADS = """
with gone as (
    delete from uploads u
    using unnest($1::uuid[], $2::uuid[]) as g (workspace_id, id)
    where u.workspace_id = g.workspace_id and u.id = g.id
    returning u.workspace_id, u.size_bytes
), freed as (
    select workspace_id, sum(size_bytes) as bytes from gone group by workspace_id
)
update workspaces w set pending_bytes = greatest(w.pending_bytes - freed.bytes, 0)
from freed
where w.id = freed.workspace_id
"""


async def reserve_upload(db: Database | Connection, *, workspace_id: uuid.UUID,
                         upload_id: uuid.UUID, storage_path: str, file_name: str,
                         mime_type: str, size_bytes: int, checksum_sha256: bytes | None,
                         expires_at: dt.datetime) -> bool:
    """Record a pending upload if the quota has room for it; whether it had."""
    return bool(await db.fetchval(RESERVE_UPLOAD, workspace_id, upload_id, storage_path,
                                  file_name, mime_type, size_bytes, checksum_sha256,
                                  expires_at))


async def get_usage(db: Database | Connection, workspace_id: uuid.UUID) -> dict | None:
    """quota_bytes, used_bytes and pending_bytes of a workspace."""
    row = await db.fetchrow(SELECT_USAGE, workspace_id)
    return dict(row) if row else None


async def get_upload(db: Database | Connection, workspace_id: uuid.UUID,
                     storage_path: str) -> dict | None:
    row = await db.fetchrow(SELECT_UPLOAD, workspace_id, storage_path)
    return dict(row) if row else None


async def lock_uploads_created_before(conn: Connection, before: dt.datetime,
                                      limit: int) -> list[dict]:
    return [dict(r) for r in await conn.fetch(LOCK_UPLOADS_CREATED_BEFORE, before, limit)]


async def lock_unseen_uploads_expired_before(conn: Connection, before: dt.datetime,
                                             limit: int) -> list[dict]:
    """Uploads whose URL expired before ``before`` and whose bytes were not seen yet."""
    rows = await conn.fetch(LOCK_UNSEEN_UPLOADS_EXPIRED_BEFORE, before, limit)
    return [dict(r) for r in rows]


async def mark_arrived(conn: Connection, rows: Sequence[dict]) -> None:
    await conn.execute(MARK_ARRIVED, [r["workspace_id"] for r in rows], [r["id"] for r in rows])


async def delete_uploads(conn: Connection, rows: Sequence[dict]) -> None:
    await conn.execute(DELETE_UPLOADS, [r["workspace_id"] for r in rows],
                       [r["id"] for r in rows])
