"""The file side of documents: image size and preview, and removing deleted ones' bytes.

(The document record itself — create, read, update, soft delete — lives with
the rest of the document SQL.)
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from docgraph.db.database import Connection, Database, Executor
from docgraph.db.documents import DOCUMENT_COLUMNS
from docgraph.db.events import document_event

SELECT_LIVE_DOCUMENT_FILE = """
select storage_path, mime_type, preview_path, scan_status from documents
where workspace_id = $1 and id = $2 and deleted_at is null
"""
# Only while the document is live and still points at the bytes measured. The
# document's `image` changes: its event is document.updated, by the system.
SET_IMAGE = f"""
with measured as (
    update documents as d
    set image_width = $4, image_height = $5, preview_path = $6, preview_width = $7,
        preview_height = $8, image_checked_at = now()
    where d.workspace_id = $1 and d.id = $2 and d.storage_path = $3 and d.deleted_at is null
    returning {DOCUMENT_COLUMNS}
), event as (
    {document_event("measured", "'document.updated'", "'system'")}
)
select id from measured
"""  # noqa: S608 - composed of constants; values are $n parameters
# A PDF's page count and first page's preview: document.updated, by the system.
SET_PDF = f"""
with measured as (
    update documents as d
    set page_count = $4, preview_path = $5, preview_width = $6, preview_height = $7,
        image_checked_at = now()
    where d.workspace_id = $1 and d.id = $2 and d.storage_path = $3 and d.deleted_at is null
    returning {DOCUMENT_COLUMNS}
), event as (
    {document_event("measured", "'document.updated'", "'system'")}
)
select id from measured
"""  # noqa: S608 - composed of constants; values are $n parameters
# Looked at, and nothing to record: not really an image, too large, or no bytes.
MARK_IMAGE_CHECKED = """
update documents set image_checked_at = now()
where workspace_id = $1 and id = $2 and storage_path = $3 and deleted_at is null
"""
# Image and PDF documents recorded before $2 that no preview job has looked at
# yet (one lost to a crash or an outage), tried fewer than $3 times, whose bytes
# may be read (a scanner found them clean, or none looks). The mime_type
# condition repeats the partial index's predicate so the index serves the scan.
SELECT_UNCHECKED_IMAGES = """
select workspace_id, id from documents
where image_checked_at is null and deleted_at is null
  and (mime_type like 'image/%' or mime_type = 'application/pdf')
  and mime_type = any($1::text[]) and created_at < $2 and image_check_attempts < $3
  and scan_status in ('clean', 'not_scanned')
order by created_at
limit $4
"""
# One more try; counted before it runs, so a try that crashes the process counts.
COUNT_IMAGE_CHECK_ATTEMPT = """
update documents set image_check_attempts = image_check_attempts + $3
where workspace_id = $1 and id = $2
"""
# path_in_use: a live document still points at the same bytes (then they stay,
# neither moved nor removed).
_PATH_IN_USE = """
       exists (select 1 from documents live
               where live.workspace_id = d.workspace_id and live.storage_path = d.storage_path
                 and live.deleted_at is null) as path_in_use"""
LOCK_DELETED_BEFORE = f"""
select d.workspace_id, d.id, d.storage_path, d.preview_path, d.bytes_moved_at,{_PATH_IN_USE}
from documents d
where d.deleted_at < $1
order by d.deleted_at
limit $2
for update of d skip locked
"""  # noqa: S608 - composed of constants; values are $n parameters
# Deletions recorded before $1 whose bytes were not moved away: a move a crash
# or an outage interrupted (or a deletion older than the move).
LOCK_UNMOVED_DELETED_BEFORE = f"""
select d.workspace_id, d.id, d.storage_path, d.preview_path,{_PATH_IN_USE}
from documents d
where d.deleted_at < $1 and d.bytes_moved_at is null
order by d.deleted_at
limit $2
for update of d skip locked
"""  # noqa: S608 - composed of constants; values are $n parameters
MARK_BYTES_MOVED = """
update documents d set bytes_moved_at = now()
from unnest($1::uuid[], $2::uuid[]) as moved (workspace_id, id)
where d.workspace_id = moved.workspace_id and d.id = moved.id
  and d.deleted_at is not null and d.bytes_moved_at is null
"""
DELETE_DOCUMENTS = """
delete from documents d
using unnest($1::uuid[], $2::uuid[]) as gone (workspace_id, id)
where d.workspace_id = gone.workspace_id and d.id = gone.id and d.deleted_at is not null
"""
# Which of these keys something still refers to: a document (live or awaiting
# removal) or a pending upload, or, for a key under a workspace's deleted/
# prefix, the deleted document whose bytes it keeps until they are purged.
# $1, $2 and $3 are parallel arrays of the keys' workspace ids, the keys, and
# the document a deleted/ key names (null for other keys).
SELECT_REFERENCED_KEYS = """
with candidate (workspace_id, key, document_id) as (
    select * from unnest($1::uuid[], $2::text[], $3::uuid[]))
select c.key from candidate c
where exists (select 1 from documents d
              where d.workspace_id = c.workspace_id
                and (d.storage_path = c.key or d.preview_path = c.key))
   or exists (select 1 from uploads u
              where u.workspace_id = c.workspace_id and u.storage_path = c.key)
   or exists (select 1 from documents d
              where d.workspace_id = c.workspace_id and d.id = c.document_id)
"""


async def get_live_document_file(db: Database, workspace_id: uuid.UUID,
                                 document_id: uuid.UUID) -> dict | None:
    row = await db.fetchrow(SELECT_LIVE_DOCUMENT_FILE, workspace_id, document_id)
    return dict(row) if row else None


async def set_image(db: Database, workspace_id: uuid.UUID, document_id: uuid.UUID, *,
                    storage_path: str, width: int, height: int, preview_path: str | None,
                    preview_width: int | None, preview_height: int | None) -> bool:
    """Record an image's size and preview; False if the document is gone or changed."""
    row = await db.fetchrow(SET_IMAGE, workspace_id, document_id, storage_path, width, height,
                            preview_path, preview_width, preview_height)
    return row is not None


async def set_pdf(db: Database, workspace_id: uuid.UUID, document_id: uuid.UUID, *,
                  storage_path: str, page_count: int, preview_path: str | None,
                  preview_width: int | None, preview_height: int | None) -> bool:
    """Record a PDF's page count and preview; False if the document is gone or changed."""
    row = await db.fetchrow(SET_PDF, workspace_id, document_id, storage_path, page_count,
                            preview_path, preview_width, preview_height)
    return row is not None


async def mark_image_checked(db: Database, workspace_id: uuid.UUID, document_id: uuid.UUID,
                             *, storage_path: str) -> None:
    await db.execute(MARK_IMAGE_CHECKED, workspace_id, document_id, storage_path)


async def select_unchecked_images(db: Database, mime_types: Sequence[str],
                                  created_before: dt.datetime, max_attempts: int,
                                  limit: int) -> list[dict]:
    rows = await db.fetch(SELECT_UNCHECKED_IMAGES, list(mime_types), created_before,
                          max_attempts, limit)
    return [dict(r) for r in rows]


async def count_image_check_attempt(db: Database, workspace_id: uuid.UUID,
                                    document_id: uuid.UUID, *, undo: bool = False) -> None:
    """Count one more try at the document's image (``undo``: give it back)."""
    await db.execute(COUNT_IMAGE_CHECK_ATTEMPT, workspace_id, document_id, -1 if undo else 1)


async def lock_deleted_before(conn: Connection, before: dt.datetime,
                              limit: int) -> list[dict]:
    """Documents soft-deleted before ``before``, locked (others' locked rows skipped)."""
    return [dict(r) for r in await conn.fetch(LOCK_DELETED_BEFORE, before, limit)]


async def lock_unmoved_deleted_before(conn: Connection, before: dt.datetime,
                                      limit: int) -> list[dict]:
    """Deleted documents whose bytes were not moved away, deleted before ``before``,
    locked (others' locked rows skipped)."""
    return [dict(r) for r in await conn.fetch(LOCK_UNMOVED_DELETED_BEFORE, before, limit)]


async def mark_bytes_moved(db: Executor, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record that these deleted documents' bytes (``workspace_id``, ``id``) were moved."""
    await db.execute(MARK_BYTES_MOVED, [r["workspace_id"] for r in rows],
                     [r["id"] for r in rows])


async def delete_documents(conn: Connection, rows: Sequence[dict]) -> None:
    await conn.execute(DELETE_DOCUMENTS, [r["workspace_id"] for r in rows],
                       [r["id"] for r in rows])


async def referenced_keys(db: Database,
                          candidates: Sequence[tuple[uuid.UUID, str, uuid.UUID | None]]
                          ) -> set[str]:
    """Which keys of ``candidates`` (workspace id, key, and the document a key under
    the deleted/ prefix names, else None) something still refers to."""
    if not candidates:
        return set()
    rows = await db.fetch(SELECT_REFERENCED_KEYS, [w for w, _, _ in candidates],
                          [k for _, k, _ in candidates], [d for _, _, d in candidates])
    return {r["key"] for r in rows}
