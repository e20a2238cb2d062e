"""Events: the transactional outbox and the audit trail (table ``events``, migration 0011).

Writing. Every statement that changes a document, a link or an entity also
inserts its event, in a data-modifying CTE of that same statement (the pieces
below: ``document_event``, ``link_event``, ``entity_event``): no extra round
trip, and the event exists exactly when the change does. Each statement names
the workspace as ``$1``. The event's ``data`` is the object as GraphQL shows it
(camelCase fields, enum values upper-cased, times as GraphQL writes them),
built here from the row the statement changed: ``{"document": {...}}``,
``{"link": {...}}`` or ``{"entity": {...}}``. A trigger notifies
``docgraph_events`` (payload: the workspace id) at commit.

Reading. A position is ``(txid, seq)``: the writing transaction and the row's
sequence number. Readers that follow the outbox (webhook deliveries,
subscriptions) page forward by position and see only rows of transactions
older than every transaction still running, so an event that commits late
never lands behind a position already passed (``select_events_after``). The
audit trail is read newest first by time (``event_page``).
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from docgraph.db.database import Executor

CHANNEL = "docgraph_events"

# -- the objects as the API shows them ----------------------------------------------------


def _time(column: str) -> str:
    return f"docgraph_json_time({column})"


def link_json(k: str) -> str:
    """The link row ``k`` (``db.links.LINK_COLUMNS``' names) as GraphQL's ``Link``."""
    return f"""jsonb_build_object(
        'id', {k}.id, 'documentId', {k}.document_id, 'entityType', upper({k}.entity_type),
        'entityId', {k}.entity_id, 'role', {k}.role, 'createdAt', {_time(f"{k}.created_at")})"""


def document_json(d: str, links: str) -> str:
    """The document row ``d`` (``db.documents.DOCUMENT_COLUMNS``' names) as GraphQL's
    ``Document`` shows its fields, with ``links`` (a jsonb array of ``link_json``).

    ``attachmentType`` follows ``records.DocumentRecord.attachment_type``; a test
    compares the whole object with what GraphQL answers for the same document.
    """
    return f"""jsonb_build_object(
        'id', {d}.id, 'name', {d}.name, 'description', {d}.description,
        'mimeType', {d}.mime_type, 'sizeBytes', {d}.size_bytes,
        'storagePath', {d}.storage_path, 'folder', {d}.folder, 'tags', {d}.tags,
        'type', upper({d}.type), 'status', upper({d}.status), 'userData', {d}.user_data,
        'verifiedAt', {_time(f"{d}.verified_at")}, 'rejectionReason', {d}.rejection_reason,
        'createdBy', {d}.created_by, 'createdAt', {_time(f"{d}.created_at")},
        'updatedAt', {_time(f"{d}.updated_at")},
        'attachmentType', case when starts_with({d}.mime_type, 'image/') then 'IMAGE'
                               when {d}.mime_type = 'application/octet-stream' then 'UNKNOWN'
                               else 'OTHER' end,
        'sha256', encode({d}.checksum_sha256, 'hex'),
        'image', case when {d}.image_width is not null then
                      jsonb_build_object('width', {d}.image_width, 'height', {d}.image_height)
                 end,
        'detectedMimeType', {d}.detected_mime_type, 'scanStatus', upper({d}.scan_status),
        'scanSignature', {d}.scan_signature, 'scannedAt', {_time(f"{d}.scanned_at")},
        'pageCount', {d}.page_count,
        'textStatus', upper({d}.text_status), 'textLength', {d}.text_length,
        'textStatusReason', {d}.text_status_reason,
        'links', {links})"""


def entity_json(e: str) -> str:
    """The entity row ``e`` (``db.entities.ENTITY_COLUMNS``' names) as GraphQL's ``Entity``."""
    return f"""jsonb_build_object(
        'id', {e}.id, 'entityType', upper({e}.entity_type), 'name', {e}.name,
        'attributes', {e}.attributes, 'createdAt', {_time(f"{e}.created_at")},
        'updatedAt', {_time(f"{e}.updated_at")})"""


# -- the events' inserts, as CTEs of the changes' statements -----------------------------

_INSERT = "insert into events (workspace_id, type, actor, document_id, entity_ids, data)"


def _links_of(links: str, where: str) -> str:
    """One row: the entity ids and the JSON of the links of ``links`` matching ``where``,
    oldest first (as a document's ``links`` are listed)."""
    order = "order by k.created_at, k.id"
    return f"""(select coalesce(array_agg(k.entity_id {order}), '{{}}') as entity_ids,
            coalesce(jsonb_agg({link_json("k")} {order}), '[]') as links
     from {links} k where {where})"""  # noqa: S608 - constants; values are $n parameters


def document_event(source: str, type_sql: str, actor: str, *, links: str | None = "links",
                   extra: str = "") -> str:
    """The insert of one event per document row of the CTE ``source``.

    ``type_sql``: the event's type (an SQL expression); ``actor``: its actor (a
    parameter or literal). The document's links, for its data and its
    ``entity_ids``, are read from ``links`` (the table; or a CTE holding the
    links a deletion removed; None: a new document has none). ``extra``: more
    keys for the document's object (``'key', value, ...``).
    """
    if links is None:
        lateral = "(select '{}'::uuid[] as entity_ids, '[]'::jsonb as links)"
    elif links == "links":
        lateral = _links_of("links", "k.workspace_id = $1 and k.document_id = c.id")
    else:
        lateral = _links_of(links, "k.document_id = c.id")
    document = document_json("c", "dl.links")
    if extra:
        document = f"({document} || jsonb_build_object({extra}))"
    return f"""{_INSERT}
    select $1, {type_sql}, {actor}, c.id, dl.entity_ids,
           jsonb_build_object('document', {document})
    from {source} c cross join lateral {lateral} dl"""  # noqa: S608 - constants only


def link_event(source: str, type_sql: str, actor: str) -> str:
    """The insert of one event per link row of the CTE ``source``."""
    return f"""{_INSERT}
    select $1, {type_sql}, {actor}, k.document_id, array[k.entity_id],
           jsonb_build_object('link', {link_json("k")})
    from {source} k"""  # noqa: S608 - constants only


def entity_event(source: str, type_sql: str, actor: str) -> str:
    """The insert of one event per entity row of the CTE ``source``."""
    return f"""{_INSERT}
    select $1, {type_sql}, {actor}, null, array[e.id],
           jsonb_build_object('entity', {entity_json("e")})
    from {source} e"""  # noqa: S608 - constants only


# -- reading ------------------------------------------------------------------------------

# A position's txid travels as a bigint: xid8 is 64 bits with a 32-bit epoch,
# far below 2^63 for the life of any cluster.
EVENT_COLUMNS = """
    e.seq, e.txid::text::bigint as txid, e.type, e.occurred_at, e.actor, e.document_id,
    e.entity_ids, e.data"""

# The oldest transaction still running: every event of an older transaction is
# committed (and visible) or rolled back (and never will be). (Also the condition of
# the webhook dispatcher's reads, db.webhooks.)
COMPLETE = "e.txid < pg_snapshot_xmin(pg_current_snapshot())"
_COMPLETE = COMPLETE

# A workspace's events after the position ($2, $3), in position order, of
# transactions older than every transaction still running; optionally of some
# types ($4), of a document ($5), about an entity ($6). At most $7.
SELECT_EVENTS_AFTER = f"""
select {EVENT_COLUMNS}
from events e
where e.workspace_id = $1
  and (e.txid, e.seq) > ($2::bigint::text::xid8, $3::bigint)
  and {_COMPLETE}
  and ($4::text[] is null or e.type = any($4::text[]))
  and ($5::uuid is null or e.document_id = $5::uuid)
  and ($6::uuid is null or e.entity_ids @> array[$6::uuid])
order by e.txid, e.seq
limit $7
"""  # noqa: S608 - composed of constants; values are $n parameters

# SELECT_EVENTS_AFTER for a reader that also needs to know whether to read again soon:
# the same rows, and after them (at most one) a row of a transaction that committed
# but is not older than every transaction still running, flagged ``held`` (its event
# columns null but its position). Such a row comes in position order after every
# complete one; it says that an event was notified but cannot be read yet (another
# transaction that began earlier still runs), and no notification will come when it
# can. Rows of transactions still running are invisible, and notify at commit.
SELECT_EVENT_STREAM = f"""
with complete as (
    select {EVENT_COLUMNS}, false as held
    from events e
    where e.workspace_id = $1
      and (e.txid, e.seq) > ($2::bigint::text::xid8, $3::bigint)
      and {_COMPLETE}
      and ($4::text[] is null or e.type = any($4::text[]))
      and ($5::uuid is null or e.document_id = $5::uuid)
      and ($6::uuid is null or e.entity_ids @> array[$6::uuid])
    order by e.txid, e.seq
    limit $7
), held as (
    select null::bigint as seq, e.txid::text::bigint as txid, null::text as type,
           null::timestamptz as occurred_at, null::text as actor, null::uuid as document_id,
           null::uuid[] as entity_ids, null::jsonb as data, true as held
    from events e
    where e.workspace_id = $1
      and (e.txid, e.seq) > ($2::bigint::text::xid8, $3::bigint)
      and e.txid >= pg_snapshot_xmin(pg_current_snapshot())
      and ($4::text[] is null or e.type = any($4::text[]))
      and ($5::uuid is null or e.document_id = $5::uuid)
      and ($6::uuid is null or e.entity_ids @> array[$6::uuid])
    limit 1
)
select * from complete
union all
select * from held
order by held, txid, seq
"""  # noqa: S608 - composed of constants; values are $n parameters

# The position a reader that starts now begins after: every event it will read
# belongs to a transaction that had not finished yet (seq 0 precedes them all).
SELECT_FRONTIER = "select pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
# The frontier, and the first transaction id not assigned yet: no event's txid reaches it.
SELECT_FRONTIER_AND_NEXT = """
select pg_snapshot_xmin(s)::text::bigint as frontier, pg_snapshot_xmax(s)::text::bigint as next
from pg_current_snapshot() s
"""

# Events older than $1, a batch ($2) at a time; rows another purge is deleting are
# skipped, so purges on several instances at once only share the work.
PURGE_EVENTS = """
delete from events
where ctid = any(array(select ctid from events where occurred_at < $1 limit $2
                       for update skip locked))
"""


@dataclasses.dataclass(frozen=True, slots=True)
class EventPageShape:
    """Which filters a page of the audit trail has: each shape has its own statement,
    holding only those (``event_page``), so every filter can use its index."""

    type: bool = False
    document: bool = False
    entity: bool = False
    actor: bool = False
    since: bool = False
    until: bool = False
    after: bool = False  # after a cursor (else after an offset)
    with_total: bool = True


@functools.cache
def event_page(shape: EventPageShape) -> str:
    """One page of a workspace's events, newest first (``occurred_at``, then ``seq``).

    Parameters: $1 the workspace, then the given filters in the order of
    ``EventPageShape`` (type, document id, entity id, actor, since (inclusive),
    until (exclusive)), then the cursor's time and seq if it has one, the offset
    and the number of rows to read (the page's size plus one). Each row carries
    ``total_count`` (null unless ``with_total``) and ``has_preceding`` (after a
    cursor: whether anything precedes it); an empty page is one row whose event
    columns are null.
    """
    n = 1
    filters = ["e.workspace_id = $1"]
    for given, condition in (
            (shape.type, "e.type = ${}::text"),
            (shape.document, "e.document_id = ${}::uuid"),
            (shape.entity, "e.entity_ids @> array[${}::uuid]"),
            (shape.actor, "e.actor = ${}::text"),
            (shape.since, "e.occurred_at >= ${}::timestamptz"),
            (shape.until, "e.occurred_at < ${}::timestamptz")):
        if given:
            n += 1
            filters.append(condition.format(n))
    matching = " and ".join(filters)
    page_cursor = precedes = ""
    if shape.after:
        cursor = f"(${n + 1}::timestamptz, ${n + 2}::bigint)"
        n += 2
        page_cursor = f"\n      and (e.occurred_at, e.seq) < {cursor}"
        precedes = (f"exists (select 1 from events e where {matching} "  # noqa: S608
                    f"and (e.occurred_at, e.seq) >= {cursor})")
    offset, rows = f"${n + 1}", f"${n + 2}"
    total = (f"(select count(*) from events e where {matching})"  # noqa: S608
             if shape.with_total else "null::bigint")
    return f"""
select {total} as total_count,
       {precedes or "null::boolean"} as has_preceding,
       p.*
from (select 1) one
left join lateral (
    select {EVENT_COLUMNS}
    from events e
    where {matching}{page_cursor}
    order by e.occurred_at desc, e.seq desc
    offset {offset} limit {rows}
) p on true
order by p.occurred_at desc, p.seq desc
"""  # noqa: S608 - composed of constants; values are $n parameters


async def select_events_after(
    db: Executor, workspace_id: uuid.UUID, after: tuple[int, int], *,
    types: Sequence[str] | None = None, document_id: uuid.UUID | None = None,
    entity_id: uuid.UUID | None = None, limit: int = 100,
) -> list[Mapping[str, Any]]:
    """Up to ``limit`` of the workspace's events after the position ``after``
    (``(txid, seq)``), in position order (see SELECT_EVENTS_AFTER)."""
    return await db.fetch(SELECT_EVENTS_AFTER, workspace_id, after[0], after[1],
                          list(types) if types is not None else None, document_id,
                          entity_id, limit)


async def select_event_stream(
    db: Executor, workspace_id: uuid.UUID, after: tuple[int, int], *,
    types: Sequence[str] | None = None, document_id: uuid.UUID | None = None,
    entity_id: uuid.UUID | None = None, limit: int = 100,
) -> tuple[list[Mapping[str, Any]], bool]:
    """What ``select_events_after`` reads, and whether a matching event of a committed
    transaction is held back until older ones end (see SELECT_EVENT_STREAM)."""
    rows = await db.fetch(SELECT_EVENT_STREAM, workspace_id, after[0], after[1],
                          list(types) if types is not None else None, document_id,
                          entity_id, limit)
    held = bool(rows) and rows[-1]["held"]
    return (rows[:-1] if held else rows), held


async def select_frontier(db: Executor) -> int:
    """The txid of the oldest transaction still running (see SELECT_FRONTIER)."""
    return int(await db.fetchval(SELECT_FRONTIER))


async def select_frontier_and_next(db: Executor) -> tuple[int, int]:
    """The frontier and the next transaction id (see SELECT_FRONTIER_AND_NEXT)."""
    row = await db.fetchrow(SELECT_FRONTIER_AND_NEXT)
    assert row is not None
    return int(row["frontier"]), int(row["next"])


async def select_event_page(
    db: Executor, workspace_id: uuid.UUID, *, type: str | None = None,
    document_id: uuid.UUID | None = None, entity_id: uuid.UUID | None = None,
    actor: str | None = None, since: datetime | None = None, until: datetime | None = None,
    after: tuple[datetime, int] | None = None, offset: int = 0, limit: int = 25,
    with_total: bool = True,
) -> list[Mapping[str, Any]]:
    """Up to ``limit + 1`` rows of ``event_page``."""
    shape = EventPageShape(type=type is not None, document=document_id is not None,
                           entity=entity_id is not None, actor=actor is not None,
                           since=since is not None, until=until is not None,
                           after=after is not None, with_total=with_total)
    args: list[Any] = [workspace_id]
    args += [value for value in (type, document_id, entity_id, actor, since, until)
             if value is not None]
    if after is not None:
        args += after
    return await db.fetch(event_page(shape), *args, offset, limit + 1)


async def purge_events(db: Executor, before: datetime, batch: int) -> int:
    """Delete up to ``batch`` events that occurred before ``before``; how many."""
    return int((await db.execute(PURGE_EVENTS, before, batch)).split()[-1])
