"""Documents and their folders. Soft-deleted documents are invisible to every read."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from docgraph.db.database import Executor
from docgraph.errors import StorageConflict

DOCUMENT_COLUMNS = """
    d.id, d.name, d.description, d.mime_type, d.size_bytes, d.storage_path, d.folder,
    d.tags, d.type, d.status, d.user_data, d.verified_at, d.rejection_reason,
    d.checksum_sha256, d.image_width, d.image_height, d.preview_path, d.preview_width,
    d.preview_height, d.created_by, d.created_at, d.updated_at"""

INSERT_FOLDER = """
insert into folders (workspace_id, path) values ($1, $2) on conflict do nothing
"""

# Record a document on bytes uploaded through a signed URL, in one statement: the
# upload ($7) stops being pending, its size moves from the workspace's pending to
# its used bytes, the folder ($8) is created on demand, and the document is
# inserted. Nothing happens (no row) when the upload is no longer pending. As one
# statement, it holds the workspace row's lock only while it runs and commits,
# never across a round trip to the client.
INSERT_UPLOADED_DOCUMENT = f"""
with recorded as (
    delete from uploads where workspace_id = $1 and storage_path = $7 returning size_bytes
), counted as (
    update workspaces w set used_bytes = w.used_bytes + recorded.size_bytes,
                            pending_bytes = greatest(w.pending_bytes - recorded.size_bytes, 0)
    from recorded
    where w.id = $1
    returning w.id
), folder as (
    insert into folders (workspace_id, path)
    select $1, $8::text from counted where $8::text is not null
    on conflict do nothing
)
insert into documents as d (workspace_id, id, name, description, mime_type, size_bytes,
                            storage_path, folder, tags, type, user_data, created_by,
                            checksum_sha256)
select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 from counted
returning {DOCUMENT_COLUMNS}
"""  # noqa: S608 - composed of constants; values are $n parameters

SELECT_DOCUMENTS_BY_ID = f"""
select {DOCUMENT_COLUMNS}
from documents d
where d.workspace_id = $1 and d.id = any($2::uuid[]) and d.deleted_at is null
"""  # noqa: S608 - composed of constants; values are $n parameters

# Each field changes only when its flag is true, so one statement serves every PATCH.
UPDATE_DOCUMENT = f"""
update documents as d set
    name = case when $3 then $4::text else d.name end,
    description = case when $5 then $6::text else d.description end,
    folder = case when $7 then $8::text else d.folder end,
    tags = case when $9 then $10::text[] else d.tags end,
    type = case when $11 then $12::text else d.type end,
    user_data = case when $13 then $14::jsonb else d.user_data end,
    updated_at = now()
where d.workspace_id = $1 and d.id = $2 and d.deleted_at is null
returning {DOCUMENT_COLUMNS}
"""  # noqa: S608 - composed of constants; values are $n parameters
UPDATABLE_FIELDS = ("name", "description", "folder", "tags", "type", "user_data")

# A deleted document's bytes stop counting toward the quota at once (the sweep
# removes them after the grace period). greatest(): documents recorded before
# sizes were counted must not drive used_bytes below zero. The paths returned
# are those of the row as deleted (a preview recorded just before is among them;
# none can be recorded after), for the move that follows.
SOFT_DELETE_DOCUMENT = """
with deleted as (
    update documents set deleted_at = now(), updated_at = now()
    where workspace_id = $1 and id = $2 and deleted_at is null
    returning id, deleted_at, size_bytes, storage_path, preview_path
)
update workspaces w set used_bytes = greatest(w.used_bytes - deleted.size_bytes, 0)
from deleted
where w.id = $1
returning deleted.id, deleted.deleted_at, deleted.storage_path, deleted.preview_path
"""
# A deletion recorded whose bytes were not moved yet (the move failed or was cut short).
SELECT_UNMOVED_DELETION = """
select id, deleted_at, storage_path, preview_path from documents
where workspace_id = $1 and id = $2 and deleted_at is not null and bytes_moved_at is null
"""

# verified_at and rejection_reason follow the status (the table checks it too).
CHANGE_STATUS = f"""
update documents as d set
    status = $3::text,
    verified_at = case when $3::text = 'verified' then now() end,
    rejection_reason = case when $3::text = 'rejected' then $4::text end,
    updated_at = now()
where d.workspace_id = $1 and d.id = $2 and d.deleted_at is null and d.status = any($5::text[])
returning {DOCUMENT_COLUMNS}
"""  # noqa: S608 - composed of constants; values are $n parameters

SELECT_LIVE_DOCUMENT_AT = """
select exists (select 1 from documents
               where workspace_id = $1 and storage_path = $2 and deleted_at is null)
"""

SELECT_DOCUMENT_STATUS = """
select status from documents where workspace_id = $1 and id = $2 and deleted_at is null
"""

# The workspace's live documents matching every given filter ($2..$11; null: any).
_DOCUMENT_FILTER = """
    d.workspace_id = $1 and d.deleted_at is null
    and ($2::text is null or d.folder = $2::text or starts_with(d.folder, $3::text))
    and ($4::text[] is null or d.tags @> $4::text[])
    and ($5::text is null or d.type = $5::text)
    and ($6::text is null or d.status = $6::text)
    and ($7::text is null or d.mime_type = $7::text)
    and ($8::text is null or starts_with(d.mime_type, $8::text))
    and ($9::text is null or strpos(lower(d.name), lower($9::text)) > 0)
    and ($10::text is null or exists (
        select 1 from links l
        where l.workspace_id = $1 and l.document_id = d.id
          and l.entity_type = $10::text and l.entity_id = $11::uuid))"""

# One page, newest first, with the total and the number of documents before the
# cursor ($12, $13), in one statement.
SELECT_DOCUMENT_PAGE = f"""
select t.total_count, t.preceding, p.*
from (
    select count(*) as total_count,
           count(*) filter (where (d.created_at, d.id) >= ($12::timestamptz, $13::uuid))
               as preceding
    from documents d
    where {_DOCUMENT_FILTER}
) t
left join lateral (
    select {DOCUMENT_COLUMNS}
    from documents d
    where {_DOCUMENT_FILTER}
      and ($12::timestamptz is null or (d.created_at, d.id) < ($12::timestamptz, $13::uuid))
    order by d.created_at desc, d.id desc
    offset $14 limit $15
) p on true
order by p.created_at desc, p.id desc
"""  # noqa: S608 - composed of constants; values are $n parameters

_LINKED_FILTER = """
    l.workspace_id = $1 and l.entity_type = o.entity_type and l.entity_id = o.id
    and d.workspace_id = $1 and d.id = l.document_id and d.deleted_at is null
    and ($3::text is null or l.role = $3::text)
    and ($4::text is null or d.type = $4::text)
    and ($5::text is null or d.status = $5::text)"""

# Several entities (owners) and one page of each one's live documents, newest
# first, with each list's total: one statement for a whole level of a query.
# An owner without documents on the page yields one row whose document columns
# are null; an unknown owner yields none. The owner's columns other than its id
# and type are on its first row only (null on the others): decoding them again
# for every document, two timestamps among them, cost a seventh of the
# statement's client CPU. The totals are window counts taken in the same pass
# as the page; only when the page is empty (past the end) are they counted
# apart (COALESCE evaluates its second argument only then).
_ENTITY_DOCUMENT_PAGES = f"""
select o.id as owner_id, o.entity_type as owner_entity_type,
       case when row_number() over owner_rows = 1 then o.name end as owner_name,
       case when row_number() over owner_rows = 1 then o.attributes end as owner_attributes,
       case when row_number() over owner_rows = 1 then o.created_at end as owner_created_at,
       case when row_number() over owner_rows = 1 then o.updated_at end as owner_updated_at,
       coalesce(p.page_total, (select count(*) from links l, documents d
                               where {_LINKED_FILTER})) as total_count,
       coalesce(p.page_preceding, (
           select count(*) filter (where (d.created_at, d.id) >= ($6::timestamptz, $7::uuid))
           from links l, documents d
           where {_LINKED_FILTER})) as preceding,
       p.*{{links_columns}}
from entities o
left join lateral (
    select * from (
        select {DOCUMENT_COLUMNS},
               l.id as link_id, l.role as link_role, l.created_at as link_created_at,
               count(*) over () as page_total,
               count(*) filter (where (d.created_at, d.id) >= ($6::timestamptz, $7::uuid))
                   over () as page_preceding
        from links l, documents d
        where {_LINKED_FILTER}
    ) listed
    where $6::timestamptz is null
       or (listed.created_at, listed.id) < ($6::timestamptz, $7::uuid)
    order by listed.created_at desc, listed.id desc
    offset $8 limit $9
) p on true{{links_join}}
where o.workspace_id = $1 and o.id = any($2::uuid[])
window owner_rows as (partition by o.id order by p.created_at desc, p.id desc)
order by o.id, p.created_at desc, p.id desc
"""  # noqa: S608 - composed of constants; values are $n parameters
SELECT_ENTITY_DOCUMENT_PAGES = _ENTITY_DOCUMENT_PAGES.format(links_columns="", links_join="")

# The same, and every link of each document on the pages, oldest first as
# SELECT_LINKS_BY_DOCUMENT orders them, as parallel arrays (``document_link_ids``,
# ``_entity_types``, ``_entity_ids``, ``_roles`` and ``_created_at``: arrays of plain
# types decode faster than an array of records), for queries that will ask for them.
# The links are sorted once, in a subquery, and aggregated in that order: five
# aggregates each with its own ORDER BY would sort each document's links five times.
SELECT_ENTITY_DOCUMENT_PAGES_WITH_LINKS = _ENTITY_DOCUMENT_PAGES.format(
    links_columns=", document_links.*", links_join="""
left join lateral (
    select
        array_agg(k.id) as document_link_ids,
        array_agg(k.entity_type) as document_link_entity_types,
        array_agg(k.entity_id) as document_link_entity_ids,
        array_agg(k.role) as document_link_roles,
        array_agg(k.created_at) as document_link_created_at
    from (select k.id, k.entity_type, k.entity_id, k.role, k.created_at
          from links k
          where k.workspace_id = $1 and k.document_id = p.id
          order by k.created_at, k.id) k
) document_links on true""")


async def insert_folder(conn: Executor, workspace_id: uuid.UUID, path: str) -> None:
    await conn.execute(INSERT_FOLDER, workspace_id, path)


async def insert_uploaded_document(
    db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID, *, name: str,
    description: str | None, mime_type: str, size_bytes: int, storage_path: str,
    folder: str | None, tags: Sequence[str], type: str, user_data: Mapping[str, Any],
    created_by: uuid.UUID | None, checksum_sha256: bytes | None = None,
) -> Mapping[str, Any] | None:
    """Record a document on the pending upload at ``storage_path`` (see
    INSERT_UPLOADED_DOCUMENT); None when the upload is no longer pending. A live
    document at the same storage path is a conflict."""
    try:
        return await db.fetchrow(INSERT_UPLOADED_DOCUMENT, workspace_id, document_id, name,
                                 description, mime_type, size_bytes, storage_path, folder,
                                 list(tags), type, user_data, created_by, checksum_sha256)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "documents_live_storage_path":
            raise StorageConflict(details={"storage_path": storage_path}) from exc
        raise


async def select_documents_by_id(db: Executor, workspace_id: uuid.UUID,
                                 ids: Sequence[uuid.UUID]) -> list[Mapping[str, Any]]:
    return await db.fetch(SELECT_DOCUMENTS_BY_ID, workspace_id, list(ids))


async def update_document(conn: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID,
                          changes: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Apply ``changes`` (a subset of ``UPDATABLE_FIELDS``) to a live document."""
    args: list[Any] = []
    for field in UPDATABLE_FIELDS:
        args += [field in changes, changes.get(field)]
    return await conn.fetchrow(UPDATE_DOCUMENT, workspace_id, document_id, *args)


async def soft_delete_document(db: Executor, workspace_id: uuid.UUID,
                               document_id: uuid.UUID) -> Mapping[str, Any] | None:
    """Mark a live document deleted and take its size off the workspace's used bytes:
    its ``id``, ``deleted_at``, ``storage_path`` and ``preview_path``, or None."""
    return await db.fetchrow(SOFT_DELETE_DOCUMENT, workspace_id, document_id)


async def select_unmoved_deletion(db: Executor, workspace_id: uuid.UUID,
                                  document_id: uuid.UUID) -> Mapping[str, Any] | None:
    """A deleted document whose bytes were not moved away yet (same columns as
    :func:`soft_delete_document`), or None."""
    return await db.fetchrow(SELECT_UNMOVED_DELETION, workspace_id, document_id)


async def live_document_at(db: Executor, workspace_id: uuid.UUID, storage_path: str) -> bool:
    """Whether a live document of the workspace records the object at ``storage_path``."""
    return bool(await db.fetchval(SELECT_LIVE_DOCUMENT_AT, workspace_id, storage_path))


async def change_status(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID, *,
                        to: str, allowed_from: Sequence[str],
                        rejection_reason: str | None = None) -> Mapping[str, Any] | None:
    """Move a live document to ``to`` if its status is one of ``allowed_from``."""
    return await db.fetchrow(CHANGE_STATUS, workspace_id, document_id, to, rejection_reason,
                             list(allowed_from))


async def select_document_status(db: Executor, workspace_id: uuid.UUID,
                                 document_id: uuid.UUID) -> str | None:
    return await db.fetchval(SELECT_DOCUMENT_STATUS, workspace_id, document_id)


async def select_document_page(
    db: Executor, workspace_id: uuid.UUID, *, folder: str | None, folder_prefix: str | None,
    tags: Sequence[str] | None, type: str | None, status: str | None,
    mime_type: str | None, mime_prefix: str | None, name_contains: str | None,
    linked_entity_type: str | None, linked_entity_id: uuid.UUID | None,
    after_created_at: datetime | None, after_id: uuid.UUID | None, offset: int, limit: int,
) -> list[Mapping[str, Any]]:
    """Rows of one page; each carries ``total_count`` and ``preceding``.

    An empty page is one row whose document columns are null.
    """
    return await db.fetch(
        SELECT_DOCUMENT_PAGE, workspace_id, folder, folder_prefix,
        list(tags) if tags is not None else None, type, status, mime_type, mime_prefix,
        name_contains, linked_entity_type, linked_entity_id, after_created_at, after_id,
        offset, limit,
    )


async def select_entity_document_pages(
    db: Executor, workspace_id: uuid.UUID, owner_ids: Sequence[uuid.UUID], *,
    role: str | None, type: str | None, status: str | None,
    after_created_at: datetime | None, after_id: uuid.UUID | None, offset: int, limit: int,
    with_links: bool = False,
) -> list[Mapping[str, Any]]:
    return await db.fetch(
        SELECT_ENTITY_DOCUMENT_PAGES_WITH_LINKS if with_links else SELECT_ENTITY_DOCUMENT_PAGES,
        workspace_id, list(owner_ids), role, type, status, after_created_at, after_id, offset,
        limit,
    )
