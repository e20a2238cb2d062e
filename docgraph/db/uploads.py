"""Pending uploads: signed upload URLs handed out and not yet recorded as documents."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from docgraph.db.database import Connection, Database

# Locking the workspace row serialises a workspace's quota checks. The pending
# sum is a separate statement: under READ COMMITTED it then takes a snapshot
# after the lock was granted, and sees the uploads the previous holder added.
LOCK_WORKSPACE = "select quota_bytes, used_bytes from workspaces where id = $1 for update"
SELECT_PENDING_BYTES = """
select coalesce(sum(size_bytes), 0)::bigint from uploads where workspace_id = $1
"""
INSERT_UPLOAD = """
insert into uploads (workspace_id, id, storage_path, file_name, mime_type, size_bytes,
                     checksum_sha256, expires_at)
values ($1, $2, $3, $4, $5, $6, $7, $8)
returning workspace_id, id, storage_path, file_name, mime_type, size_bytes, checksum_sha256,
          created_at, expires_at
"""
SELECT_UPLOAD = """
select workspace_id, id, storage_path, file_name, mime_type, size_bytes, checksum_sha256,
       created_at, expires_at
from uploads
where workspace_id = $1 and storage_path = $2
"""
# Recording a document: the upload stops being pending and its size counts as used.
RECORD_UPLOAD = """
with recorded as (
    delete from uploads where workspace_id = $1 and storage_path = $2 returning size_bytes
)
update workspaces set used_bytes = used_bytes + recorded.size_bytes
from recorded
where workspaces.id = $1
returning recorded.size_bytes
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
DELETE_UPLOADS = """
delete from uploads u
using unnest($1::uuid[], $2::uuid[]) as gone (workspace_id, id)
where u.workspace_id = gone.workspace_id and u.id = gone.id
"""


async def lock_workspace_usage(conn: Connection, workspace_id: uuid.UUID) -> dict | None:
    """quota_bytes, used_bytes and pending_bytes, with the workspace row locked.

    ``conn`` must be in a transaction, which holds the lock until it ends.
    """
    row = await conn.fetchrow(LOCK_WORKSPACE, workspace_id)
    if row is None:
        return None
    pending = await conn.fetchval(SELECT_PENDING_BYTES, workspace_id)
    return {**dict(row), "pending_bytes": pending}


async def insert_upload(conn: Connection, *, workspace_id: uuid.UUID, upload_id: uuid.UUID,
                        storage_path: str, file_name: str, mime_type: str, size_bytes: int,
                        checksum_sha256: bytes | None, expires_at: dt.datetime) -> dict:
    row = await conn.fetchrow(INSERT_UPLOAD, workspace_id, upload_id, storage_path, file_name,
                              mime_type, size_bytes, checksum_sha256, expires_at)
    assert row is not None
    return dict(row)


async def get_upload(db: Database | Connection, workspace_id: uuid.UUID,
                     storage_path: str) -> dict | None:
    row = await db.fetchrow(SELECT_UPLOAD, workspace_id, storage_path)
    return dict(row) if row else None


async def record_upload(conn: Connection, workspace_id: uuid.UUID,
                        storage_path: str) -> int | None:
    """Move a pending upload's size to the workspace's used bytes; None if not pending."""
    return await conn.fetchval(RECORD_UPLOAD, workspace_id, storage_path)


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
