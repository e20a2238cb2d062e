"""Documents and their folders. Soft-deleted documents are invisible to every read."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from docgraph.db.database import Executor
from docgraph.db.events import document_event
from docgraph.db.links import LINK_COLUMNS
from docgraph.errors import StorageConflict

DOCUMENT_COLUMNS = """
    d.id, d.name, d.description, d.mime_type, d.size_bytes, d.storage_path, d.folder,
    d.tags, d.type, d.status, d.user_data, d.verified_at, d.rejection_reason,
    d.checksum_sha256, d.image_width, d.image_height, d.preview_path, d.preview_width,
    d.preview_height, d.created_by, d.created_at, d.updated_at, d.detected_mime_type,
    d.scan_status, d.scan_signature, d.scanned_at, d.page_count, d.text_status,
    d.text_length, d.text_status_reason"""

INSERT_FOLDER = """
insert into folders (workspace_id, path) values ($1, $2) on conflict do nothing
"""

# Record a document on bytes uploaded through a signed URL, in one statement: the
# upload ($7) stops being pending, its size moves from the workspace's pending to
# its used bytes, the folder ($8) is created on demand, the document is inserted
# (with the type its bytes were detected as, $14, and its scan status, $15: a
# pending one is due after $17 seconds, the first try's lease when the recording
# instance scans it itself, 0 when it leaves it to instances that have a scanner),
# and so is its event (document.created, by the actor $16). Nothing happens (no
# row) when the upload is no longer pending. As one statement, it holds the
# workspace row's lock only while it runs and commits, never across a round trip to
# the client.
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
), inserted as (
    insert into documents as d (workspace_id, id, name, description, mime_type, size_bytes,
                                storage_path, folder, tags, type, user_data, created_by,
                                checksum_sha256, detected_mime_type, scan_status, scan_due_at)
    select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::text,
           case when $15::text = 'pending' then now() + make_interval(secs => $17) end
    from counted
    returning {DOCUMENT_COLUMNS}
), event as (
    {document_event("inserted", "'document.created'", "$16::text", links=None)}
)
select * from inserted
"""  # noqa: S608 - composed of constants; values are $n parameters

SELECT_DOCUMENTS_BY_ID = f"""
select {DOCUMENT_COLUMNS}
from documents d
where d.workspace_id = $1 and d.id = any($2::uuid[]) and d.deleted_at is null
"""  # noqa: S608 - composed of constants; values are $n parameters

# Each field changes only when its flag is true, so one statement serves every PATCH;
# with its event (document.updated, by the actor $15).
UPDATE_DOCUMENT = f"""
with updated as (
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
), event as (
    {document_event("updated", "'document.updated'", "$15::text")}
)
select * from updated
"""  # noqa: S608 - composed of constants; values are $n parameters
UPDATABLE_FIELDS = ("name", "description", "folder", "tags", "type", "user_data")

# A deleted document's bytes stop counting toward the quota at once (the sweep
# removes them after the grace period), and its links go: it leaves every list.
# greatest(): documents recorded before sizes were counted must not drive
# used_bytes below zero. The paths returned are those of the row as deleted (a
# preview recorded just before is among them; none can be recorded after), for
# the move that follows. Its event (document.deleted, by the actor $3) holds the
# document as it was deleted, with the links it lost and ``deletedAt``.
SOFT_DELETE_DOCUMENT = f"""
with deleted as (
    update documents as d set deleted_at = now(), updated_at = now()
    where d.workspace_id = $1 and d.id = $2 and d.deleted_at is null
    returning {DOCUMENT_COLUMNS}, d.deleted_at
), unlinked as (
    delete from links l using deleted where l.workspace_id = $1 and l.document_id = deleted.id
    returning {LINK_COLUMNS}
), event as (
    {document_event("deleted", "'document.deleted'", "$3::text", links="unlinked",
                    extra="'deletedAt', docgraph_json_time(c.deleted_at)")}
), counted as (
    update workspaces w set used_bytes = greatest(w.used_bytes - deleted.size_bytes, 0)
    from deleted
    where w.id = $1
    returning deleted.id, deleted.deleted_at, deleted.storage_path, deleted.preview_path
)
select * from counted
"""  # noqa: S608 - composed of constants; values are $n parameters
# A deletion recorded whose bytes were not moved yet (the move failed or was cut short).
SELECT_UNMOVED_DELETION = """
select id, deleted_at, storage_path, preview_path from documents
where workspace_id = $1 and id = $2 and deleted_at is not null and bytes_moved_at is null
"""

# verified_at and rejection_reason follow the status (the table checks it too). The
# event is named after the new status: document.verified, .rejected or .expired (by
# the actor $6).
CHANGE_STATUS = f"""
with changed as (
    update documents as d set
        status = $3::text,
        verified_at = case when $3::text = 'verified' then now() end,
        rejection_reason = case when $3::text = 'rejected' then $4::text end,
        updated_at = now()
    where d.workspace_id = $1 and d.id = $2 and d.deleted_at is null
      and d.status = any($5::text[])
    returning {DOCUMENT_COLUMNS}
), event as (
    {document_event("changed", "'document.' || $3::text", "$6::text")}
)
select * from changed
"""  # noqa: S608 - composed of constants; values are $n parameters

SELECT_LIVE_DOCUMENT_AT = """
select exists (select 1 from documents
               where workspace_id = $1 and storage_path = $2 and deleted_at is null)
"""

SELECT_DOCUMENT_STATUS = """
select status from documents where workspace_id = $1 and id = $2 and deleted_at is null
"""

FILTER_PARAMETERS = 13


def document_filter(n: int, *, any_given: str | None = None) -> str:
    """The workspace's ($1) live documents ``d`` matching every given filter: the
    ``FILTER_PARAMETERS`` parameters from $n on (null: any), in this order: folder,
    folder prefix (its subfolders), tags (all of them), type, status, MIME type, MIME
    prefix, part of the name, linked entity's type and id, created at or after,
    created before, scan status.

    ``any_given``: a boolean parameter, false when every filter is null, that spares a
    generic plan (whose ``$n is null`` are not folded away) from testing each filter
    on each row (0.3 µs a row: a sixth of what a search spends on each match)."""
    p = [f"${n + i}" for i in range(FILTER_PARAMETERS)]
    base = "d.workspace_id = $1 and d.deleted_at is null"
    given = _given_filters(p)
    if any_given is None:
        return f"\n    {base}\n    and {given}"
    return f"\n    {base}\n    and (not {any_given}::boolean or ({given}))"


def _given_filters(p: list[str]) -> str:
    return f"""({p[0]}::text is null or d.folder = {p[0]}::text
         or starts_with(d.folder, {p[1]}::text))
    and ({p[2]}::text[] is null or d.tags @> {p[2]}::text[])
    and ({p[3]}::text is null or d.type = {p[3]}::text)
    and ({p[4]}::text is null or d.status = {p[4]}::text)
    and ({p[5]}::text is null or d.mime_type = {p[5]}::text)
    and ({p[6]}::text is null or starts_with(d.mime_type, {p[6]}::text))
    and ({p[7]}::text is null or strpos(lower(d.name), lower({p[7]}::text)) > 0)
    and ({p[8]}::text is null or exists (
        select 1 from links l
        where l.workspace_id = $1 and l.document_id = d.id
          and l.entity_type = {p[8]}::text and l.entity_id = {p[9]}::uuid))
    and ({p[10]}::timestamptz is null or d.created_at >= {p[10]}::timestamptz)
    and ({p[11]}::timestamptz is null or d.created_at < {p[11]}::timestamptz)
    and ({p[12]}::text is null or d.scan_status = {p[12]}::text)"""  # noqa: S608


_DOCUMENT_FILTER = document_filter(2)

# One page, newest first ($18: the page's size plus one, which tells whether a
# next page exists). The total is counted only when $19 is true (a one-time
# filter: otherwise nothing is scanned for it); after a cursor ($15, $16),
# whether anything precedes it is one probe.
SELECT_DOCUMENT_PAGE = f"""
select (select count(*) from documents d where $19 and {_DOCUMENT_FILTER}) as total_count,
       $15::timestamptz is not null and exists (
           select 1 from documents d
           where {_DOCUMENT_FILTER}
             and (d.created_at, d.id) >= ($15::timestamptz, $16::uuid)) as has_preceding,
       p.*
from (select 1) one
left join lateral (
    select {DOCUMENT_COLUMNS}
    from documents d
    where {_DOCUMENT_FILTER}
      and ($15::timestamptz is null or (d.created_at, d.id) < ($15::timestamptz, $16::uuid))
    order by d.created_at desc, d.id desc
    offset $17 limit $18
) p on true
order by p.created_at desc, p.id desc
"""  # noqa: S608 - composed of constants; values are $n parameters


@dataclasses.dataclass(frozen=True, slots=True)
class DocumentFilters:
    """The values of :func:`document_filter`'s parameters (None: any)."""

    folder: str | None = None
    folder_prefix: str | None = None
    tags: Sequence[str] | None = None
    type: str | None = None
    status: str | None = None
    mime_type: str | None = None
    mime_prefix: str | None = None
    name_contains: str | None = None
    linked_entity_type: str | None = None
    linked_entity_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    scan_status: str | None = None

    def given(self) -> bool:
        """Whether any filter is given."""
        return any(value is not None for value in self.arguments())

    def arguments(self) -> list[Any]:
        return [self.folder, self.folder_prefix,
                list(self.tags) if self.tags is not None else None, self.type, self.status,
                self.mime_type, self.mime_prefix, self.name_contains, self.linked_entity_type,
                self.linked_entity_id, self.created_after, self.created_before,
                self.scan_status]

@dataclasses.dataclass(frozen=True, slots=True)
class EntityPageShape:
    """What a page of entities' documents asks for, beyond the values themselves.

    Each shape has its own statement (``entity_document_pages``): only the
    filters given are in it, so the planner never guesses around a
    ``$n is null or ...``, and a cursor is an index condition, so a page deep
    into a walk reads no more rows than the first.
    """

    by_link_time: bool = False  # newest link first (else: newest document first)
    after: bool = False  # after a cursor (else: after an offset)
    role: bool = False
    type: bool = False
    status: bool = False
    scan_statuses: bool = False  # the document's scan status is one of an array's
    with_links: bool = False  # every link of each document on the page, too
    with_total: bool = True  # the list's total
    # One owner ($2 a uuid, not an array): the usual case (``contact(id)``). A
    # generic plan then estimates it right, so PostgreSQL keeps one plan for the
    # statement instead of planning every execution again; for ``= any($2)`` it
    # guesses ten owners and re-plans each time, which cost as much as running it.
    one_owner: bool = False


# Pages come from the links' indexes (migration 0009): by the document's time
# (the link carries it) or by the link's own, newest first; each row of the
# page fetches its document by primary key.
_PAGE_ORDER = {False: ("document_created_at", "document_id", "created_at", "id"),
               True: ("created_at", "id", "link_created_at", "link_id")}

# The links of each document on the page, oldest first as SELECT_LINKS_BY_DOCUMENT
# orders them, as parallel arrays (``document_link_ids``, ``_entity_types``,
# ``_entity_ids``, ``_roles`` and ``_created_at``: arrays of plain types decode
# faster than an array of records). They are sorted once, in a subquery, and
# aggregated in that order.
_PAGE_LINKS = """
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
) document_links on true"""


@dataclasses.dataclass(frozen=True, slots=True)
class PageParts:
    """The pieces of an entity's page statement (``entity_page_parts``), for the
    statements built around them."""

    # A lateral subquery over the owner ``o``: one page of its documents, in order.
    # Each row has ``columns``, ``link_id``, ``link_role`` and ``link_created_at``.
    page: str
    # The owner's total, and (after a cursor) whether anything precedes the cursor:
    # expressions over ``o`` and the page's row ``p`` (its ``page_total`` and
    # ``page_preceding`` when the page counts them itself; null when it has no row).
    count: str
    precedes: str | None
    # The page's order, by its own columns (newest first).
    order: tuple[str, str]
    # The highest $n the page uses.
    parameters: int
    # Whether the page's rows carry ``page_total`` (and ``page_preceding``, after a
    # cursor), which ``count`` and ``precedes`` read.
    counts_itself: bool = False


@functools.cache
def entity_page_parts(shape: EntityPageShape, columns: str = DOCUMENT_COLUMNS) -> PageParts:
    """The page ``shape`` asks of the owner ``o`` (see ``entity_document_pages`` for the
    parameters), with the document's ``columns`` (``d.name, ...``)."""
    n = 2
    filters = []
    document_filters = []
    if shape.role:
        n += 1
        filters.append(f"l.role = ${n}::text")
    for column, given in (("type", shape.type), ("status", shape.status)):
        if given:
            n += 1
            document_filters.append(f"d.{column} = ${n}::text")
    if shape.scan_statuses:
        n += 1
        document_filters.append(f"d.scan_status = any(${n}::text[])")
    time, ident, out_time, out_ident = _PAGE_ORDER[shape.by_link_time]
    cursor: tuple[str, ...] = ()
    if shape.after:
        cursor = (f"${n + 1}::timestamptz", f"${n + 2}::uuid")
        n += 2
    offset, rows = f"${n + 1}", f"${n + 2}"

    entity = "l.workspace_id = $1 and l.entity_type = o.entity_type and l.entity_id = o.id"
    joined = (" and d.workspace_id = $1 and d.id = l.document_id and "
              + " and ".join(document_filters)) if document_filters else ""
    listed = " and ".join([entity, *filters]) + joined
    tables = "links l, documents d" if document_filters else "links l"
    # Every piece is one of this function's constants; values are $n parameters.
    count = f"(select count(*) from {tables} where {listed})"  # noqa: S608
    precedes = None
    page_cursor = ""
    if cursor:
        precedes = (f"exists (select 1 from {tables} where {listed} "  # noqa: S608
                    f"and (l.{time}, l.{ident}) >= ({cursor[0]}, {cursor[1]}))")
        page_cursor = f"\n      and (l.{time}, l.{ident}) < ({cursor[0]}, {cursor[1]})"
    page_filters = "".join(f"\n      and {f}" for f in filters + document_filters)
    selected = (f"{columns},\n"
                "           l.id as link_id, l.role as link_role, l.created_at as link_created_at")
    matching = ("from links l\n    join documents d on d.workspace_id = $1 "
                f"and d.id = l.document_id and d.deleted_at is null\n    where {entity}")
    page = f"""
    select {selected}
    {matching}{page_filters}{page_cursor}
    order by l.{time} desc, l.{ident} desc
    offset {offset} limit {rows}"""
    if shape.with_total and document_filters:
        # Filtered by the documents' columns, the count visits every matching
        # document anyway: take the page, and whether anything precedes the
        # cursor, in that same pass (window counts over the matching rows). Only
        # when the page is empty (past the end) are they counted apart:
        # COALESCE evaluates its second argument only then.
        before = (f",\n               count(*) filter (where (l.{time}, l.{ident}) >= "
                  f"({cursor[0]}, {cursor[1]})) over () > 0 as page_preceding"
                  if cursor else "")
        after = (f"\n    where (m.page_time, m.page_ident) < ({cursor[0]}, {cursor[1]})"
                 if cursor else "")
        page = f"""
    select * from (
        select {selected},
               l.{time} as page_time, l.{ident} as page_ident,
               count(*) over () as page_total{before}
        {matching}{page_filters}
    ) m{after}
    order by m.page_time desc, m.page_ident desc
    offset {offset} limit {rows}"""  # noqa: S608 - constants; values are $n parameters
        count = f"coalesce(p.page_total, {count})"
        if precedes is not None:
            precedes = f"coalesce(p.page_preceding, {precedes})"
    return PageParts(page, count, precedes, (out_time, out_ident), n + 2,
                     counts_itself=shape.with_total and bool(document_filters))


@functools.cache
def entity_document_pages(shape: EntityPageShape, *, positions: bool = False) -> str:
    """Several entities (owners, $2: an array, or one id) and one page of each one's
    documents, in one statement for a whole level of a query.

    Parameters after $1 (the workspace) and $2: the role, type, status and scan
    statuses (an array) the shape filters by, the cursor's time and id if it has
    one, then the offset and the number of rows to read (the page's size plus one, which tells
    whether a next page exists). An owner without documents on the page yields
    one row whose document columns are null; an unknown owner yields none. The
    owner's columns but its id and type, the total (``with_total``) and, after
    a cursor, whether anything precedes it are on its first row only (null on
    the others): each is computed once per owner. ``positions``: each row also has
    its place in its owner's rows, ``page_position`` (1 for the first).
    """
    parts = entity_page_parts(shape)
    out_time, out_ident = parts.order
    first_row = "row_number() over owner_rows"
    first = f"{first_row} = 1"
    total = f"case when {first} then {parts.count} end" if shape.with_total \
        else "null::bigint"
    preceding = f"case when {first} then {parts.precedes} end" \
        if parts.precedes is not None else "null::boolean"
    # Every piece is one of entity_page_parts' constants; values are $n parameters.
    return f"""
select o.id as owner_id, o.entity_type as owner_entity_type,
       case when {first} then o.name end as owner_name,
       case when {first} then o.attributes end as owner_attributes,
       case when {first} then o.created_at end as owner_created_at,
       case when {first} then o.updated_at end as owner_updated_at,
       {total} as total_count,
       {preceding} as has_preceding,{f" {first_row} as page_position," if positions else ""}
       p.*{", document_links.*" if shape.with_links else ""}
from entities o
left join lateral ({parts.page}
) p on true{_PAGE_LINKS if shape.with_links else ""}
where o.workspace_id = $1 and {"o.id = $2::uuid" if shape.one_owner else "o.id = any($2::uuid[])"}
window owner_rows as (partition by o.id order by p.{out_time} desc, p.{out_ident} desc)
order by o.id, p.{out_time} desc, p.{out_ident} desc
"""  # noqa: S608 - composed of constants; values are $n parameters


async def insert_folder(conn: Executor, workspace_id: uuid.UUID, path: str) -> None:
    await conn.execute(INSERT_FOLDER, workspace_id, path)


async def insert_uploaded_document(
    db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID, *, name: str,
    description: str | None, mime_type: str, size_bytes: int, storage_path: str,
    folder: str | None, tags: Sequence[str], type: str, user_data: Mapping[str, Any],
    created_by: uuid.UUID | None, checksum_sha256: bytes | None = None,
    detected_mime_type: str | None = None, scan_status: str = "not_scanned",
    first_scan_lease_seconds: float = 0.0, actor: str,
) -> Mapping[str, Any] | None:
    """Record a document on the pending upload at ``storage_path`` (see
    INSERT_UPLOADED_DOCUMENT), with its event by ``actor``; None when the upload is no
    longer pending. A live document at the same storage path is a conflict.

    A pending document's first try is held for ``first_scan_lease_seconds``: the
    recording instance makes it (``db.scans.claim_scan``), and other instances' rounds
    take it only if that try is lost."""
    try:
        return await db.fetchrow(INSERT_UPLOADED_DOCUMENT, workspace_id, document_id, name,
                                 description, mime_type, size_bytes, storage_path, folder,
                                 list(tags), type, user_data, created_by, checksum_sha256,
                                 detected_mime_type, scan_status, actor,
                                 float(first_scan_lease_seconds))
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "documents_live_storage_path":
            raise StorageConflict(details={"storage_path": storage_path}) from exc
        raise


async def select_documents_by_id(db: Executor, workspace_id: uuid.UUID,
                                 ids: Sequence[uuid.UUID]) -> list[Mapping[str, Any]]:
    return await db.fetch(SELECT_DOCUMENTS_BY_ID, workspace_id, list(ids))


async def update_document(conn: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID,
                          changes: Mapping[str, Any], *,
                          actor: str) -> Mapping[str, Any] | None:
    """Apply ``changes`` (a subset of ``UPDATABLE_FIELDS``) to a live document, with its
    event by ``actor``."""
    args: list[Any] = []
    for field in UPDATABLE_FIELDS:
        args += [field in changes, changes.get(field)]
    return await conn.fetchrow(UPDATE_DOCUMENT, workspace_id, document_id, *args, actor)


async def soft_delete_document(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID,
                               *, actor: str) -> Mapping[str, Any] | None:
    """Mark a live document deleted (with its event, by ``actor``) and take its size off
    the workspace's used bytes: its ``id``, ``deleted_at``, ``storage_path`` and
    ``preview_path``, or None."""
    return await db.fetchrow(SOFT_DELETE_DOCUMENT, workspace_id, document_id, actor)


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
                        rejection_reason: str | None = None,
                        actor: str) -> Mapping[str, Any] | None:
    """Move a live document to ``to`` if its status is one of ``allowed_from`` (with the
    event ``document.<to>``, by ``actor``)."""
    return await db.fetchrow(CHANGE_STATUS, workspace_id, document_id, to, rejection_reason,
                             list(allowed_from), actor)


async def select_document_status(db: Executor, workspace_id: uuid.UUID,
                                 document_id: uuid.UUID) -> str | None:
    return await db.fetchval(SELECT_DOCUMENT_STATUS, workspace_id, document_id)


async def select_document_page(
    db: Executor, workspace_id: uuid.UUID, filters: DocumentFilters, *,
    after_created_at: datetime | None, after_id: uuid.UUID | None, offset: int, limit: int,
    with_total: bool = True,
) -> list[Mapping[str, Any]]:
    """Up to ``limit + 1`` rows; each carries ``total_count`` (null unless
    ``with_total``) and ``has_preceding``. An empty page is one row whose document
    columns are null.
    """
    return await db.fetch(SELECT_DOCUMENT_PAGE, workspace_id, *filters.arguments(),
                          after_created_at, after_id, offset, limit + 1, with_total)


async def select_entity_document_pages(
    db: Executor, workspace_id: uuid.UUID, owner_ids: Sequence[uuid.UUID], *,
    role: str | None, type: str | None, status: str | None, by_link_time: bool = False,
    after: tuple[datetime, uuid.UUID] | None, offset: int, limit: int,
    with_links: bool = False, with_total: bool = True,
    scan_statuses: Sequence[str] | None = None,
) -> list[Mapping[str, Any]]:
    """The rows of ``entity_document_pages``: up to ``limit + 1`` per owner."""
    shape, args = entity_page_arguments(
        workspace_id, owner_ids, role=role, type=type, status=status,
        by_link_time=by_link_time, after=after, with_links=with_links,
        with_total=with_total, scan_statuses=scan_statuses)
    return await db.fetch(entity_document_pages(shape), *args, offset, limit + 1)


def entity_page_arguments(
    workspace_id: uuid.UUID, owner_ids: Sequence[uuid.UUID], *, role: str | None,
    type: str | None, status: str | None, by_link_time: bool,
    after: tuple[datetime, uuid.UUID] | None, with_links: bool, with_total: bool,
    scan_statuses: Sequence[str] | None,
) -> tuple[EntityPageShape, list[Any]]:
    """The shape of a page's statement and its parameters up to the offset."""
    one_owner = len(owner_ids) == 1
    shape = EntityPageShape(by_link_time=by_link_time, after=after is not None,
                            role=role is not None, type=type is not None,
                            status=status is not None,
                            scan_statuses=scan_statuses is not None, with_links=with_links,
                            with_total=with_total, one_owner=one_owner)
    args: list[Any] = [workspace_id, owner_ids[0] if one_owner else list(owner_ids)]
    args += [value for value in (role, type, status) if value is not None]
    if scan_statuses is not None:
        args.append(list(scan_statuses))
    if after is not None:
        args += after
    return shape, args
