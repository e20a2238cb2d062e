"""Events: the audit trail, the outbox's readers, and its retention.

Every change to a document, a link or an entity records its event in the
statement that makes the change (``db.events``; the use cases pass who made
it: ``Principal.actor``, or ``records.SYSTEM_ACTOR`` for background jobs). A
change that rolls back leaves no event, and no event exists without its change.

Reading:

* :func:`list_events`: the audit trail, newest first, filtered and paged like
  every other list (GraphQL ``events``, REST ``GET /v1/events``); it needs
  ``read:documents`` (an event shows what that scope reads: the objects a
  change left behind).
* :func:`events_after`: what the outbox's readers (webhook deliveries,
  subscriptions) follow, oldest first, from a position (an event's id, or
  :func:`start_position`). A reader that pages "after the last event seen"
  never skips one, even when transactions commit out of order: it only sees
  events of transactions older than every transaction still running, so an
  event can be a moment late, never missed. ``pg_notify('docgraph_events',
  <workspace id>)`` at each commit says when to read again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from docgraph.db import events as events_db
from docgraph.db.database import Executor
from docgraph.resolvers import resources
from docgraph.resolvers.auth import READ_DOCUMENTS
from docgraph.resolvers.pagination import CursorOrder, EventEdge, PageRequest, build_page
from docgraph.resolvers.records import EventPosition, EventRecord, Page

if TYPE_CHECKING:
    from docgraph.resolvers.context import RequestContext

CHANNEL = events_db.CHANNEL
# The retention purge: events deleted per statement, and statements per run (the next
# run goes on where this one stopped).
PURGE_BATCH = 1_000
PURGE_MAX_BATCHES = 100
READ_MAX = 1_000


async def list_events(ctx: RequestContext, filters: Mapping[str, Any] | None,
                      page: PageRequest, *, with_total: bool = True) -> Page[EventEdge]:
    """The workspace's events, newest first (by time, then by sequence), matching
    ``filters`` (``resources.EVENT_FILTER``: type, document_id, entity_id, actor,
    since (inclusive), until (exclusive)); the total counted only ``with_total``."""
    ctx.principal.require(READ_DOCUMENTS)
    f = resources.EVENT_FILTER.parse(filters or {})
    page = page.in_order(order=CursorOrder.EVENTS)
    after = None
    if page.after_created_at is not None and page.after_seq is not None:
        after = (page.after_created_at, page.after_seq)
    rows = await events_db.select_event_page(
        ctx.db, ctx.workspace_id, type=f.get("type"), document_id=f.get("document_id"),
        entity_id=f.get("entity_id"), actor=f.get("actor"), since=f.get("since"),
        until=f.get("until"), after=after, offset=page.offset, limit=page.limit,
        with_total=with_total)
    edges = [EventEdge(EventRecord.from_row(row)) for row in rows if row["seq"] is not None]
    return build_page(page, edges, total_count=rows[0]["total_count"],
                      has_preceding=rows[0]["has_preceding"])


@dataclasses.dataclass(frozen=True, slots=True)
class EventBatch:
    """What a reader of the outbox read, and where to read on from."""

    events: list[EventRecord]
    next: EventPosition  # the last event's position, or the one read after if none


async def events_after(db: Executor, workspace_id: uuid.UUID, after: EventPosition, *,
                       types: Sequence[str] | None = None,
                       document_id: uuid.UUID | None = None,
                       entity_id: uuid.UUID | None = None,
                       limit: int = 100) -> EventBatch:
    """Up to ``limit`` of the workspace's events after the position ``after``, in the
    order they are delivered (``EventPosition``), optionally only of ``types``, of a
    document, or about an entity.

    Only events of transactions older than every transaction still running are
    read: read again after ``next`` (when ``pg_notify`` says so, or a little
    later), and no event is ever skipped, however transactions interleave.
    Events purged by the retention are gone; reading after an old position goes
    on from what is left.
    """
    limit = max(1, min(limit, READ_MAX))
    rows = await events_db.select_events_after(
        db, workspace_id, (after.txid, after.seq), types=types, document_id=document_id,
        entity_id=entity_id, limit=limit)
    events = [EventRecord.from_row(row) for row in rows]
    return EventBatch(events, events[-1].position if events else after)


async def start_position(db: Executor) -> EventPosition:
    """The position a reader starting now reads after: it gets every event committed
    from now on (and perhaps a few of the moments before: deliveries are at least once)."""
    return EventPosition(await events_db.select_frontier(db), 0)


async def purge_old_events(db: Executor, retention_days: int, *,
                           now: dt.datetime | None = None, batch: int = PURGE_BATCH,
                           max_batches: int = PURGE_MAX_BATCHES) -> int:
    """Delete the events older than ``retention_days``, ``batch`` rows per statement
    and at most ``max_batches`` statements; how many were deleted."""
    before = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    purged = 0
    for _ in range(max_batches):
        done = await events_db.purge_events(db, before, batch)
        purged += done
        if done < batch:
            break
    return purged
