"""Webhooks: endpoints, the delivery queue and its attempts (migration 0015).

The queue. The dispatcher turns events into deliveries in one statement per
round (``FAN_OUT``): it locks the enabled endpoints that have events after their
cursor (skipping those another instance holds), reads those events as the
outbox's readers do (only transactions older than every one still running:
``events.COMPLETE``, so a late commit is never skipped), queues one delivery per
event of the types each endpoint wants and moves each cursor past what it read.
An event is queued once per endpoint, however many instances dispatch, and
never lost between a crash and the cursor.

Workers claim due deliveries with ``FOR UPDATE SKIP LOCKED`` (``CLAIM_DUE``):
each claim counts an attempt, records it ``in_progress`` and holds the delivery
a lease ahead, so an instance that dies mid-attempt only delays it (the next
claim marks that attempt ``interrupted``). A delivery is due only while no
earlier delivery (by event position) of the same object to the same endpoint
is still pending: one document's events reach an endpoint in order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from docgraph.db.database import Executor
from docgraph.db.events import COMPLETE, EVENT_COLUMNS

# The channel a dispatcher that queued deliveries notifies (payload: empty), so that
# every instance's workers look for them at once; and a change to the endpoints
# (payload: ENDPOINTS_CHANGED, a trigger of migration 0015).
DELIVERIES_CHANNEL = "docgraph_webhook_deliveries"
ENDPOINTS_CHANGED = "endpoints"

ENDPOINT_COLUMNS = """
    p.id, p.url, p.event_types, p.description, p.enabled, p.disabled_at, p.disabled_reason,
    case when p.previous_secret_expires_at > now() then p.previous_secret_expires_at
    end as previous_secret_expires_at,
    p.failing_since, p.created_at, p.updated_at"""

# -- endpoints -----------------------------------------------------------------------------

# A new endpoint, unless the workspace has $7 already (a bound, not a lock: two
# concurrent creations may both pass it).
INSERT_ENDPOINT = f"""
insert into webhook_endpoints as p (workspace_id, id, url, event_types, description, secret)
select $1, $2, $3, $4, $5, $6
where (select count(*) from webhook_endpoints where workspace_id = $1) < $7
returning {ENDPOINT_COLUMNS}
"""  # noqa: S608 - composed of constants; values are $n parameters
SELECT_ENDPOINTS = f"""
select {ENDPOINT_COLUMNS} from webhook_endpoints p
where p.workspace_id = $1
order by p.created_at, p.id
"""  # noqa: S608 - composed of constants; values are $n parameters
SELECT_ENDPOINT = f"""
select {ENDPOINT_COLUMNS} from webhook_endpoints p
where p.workspace_id = $1 and p.id = $2
"""  # noqa: S608 - composed of constants; values are $n parameters

# Change an endpoint: $3 url, $4 event types, ($5: whether) $6 description, $7
# enabled, $8 the reason of a disabling, each null when not changed. Disabling
# pauses its pending deliveries (next_attempt_at null); enabling resumes them and
# forgets the failures that disabled it. A new URL forgets them too.
UPDATE_ENDPOINT = f"""
with old as (
    select enabled from webhook_endpoints where workspace_id = $1 and id = $2
), changed as (
    update webhook_endpoints p
    set url = coalesce($3, p.url),
        event_types = coalesce($4::text[], p.event_types),
        description = case when $5 then $6 else p.description end,
        enabled = coalesce($7, p.enabled),
        disabled_at = case when $7 is null or $7 = p.enabled then p.disabled_at
                           when $7 then null else now() end,
        disabled_reason = case when $7 is null or $7 = p.enabled then p.disabled_reason
                               when $7 then null else $8 end,
        failing_since = case when ($7 and not p.enabled) or $3 <> p.url then null
                             else p.failing_since end,
        updated_at = now()
    where p.workspace_id = $1 and p.id = $2
    returning {ENDPOINT_COLUMNS}
), paused as (
    update webhook_deliveries d
    set next_attempt_at = null
    from changed c, old o
    where not c.enabled and o.enabled
      and d.workspace_id = $1 and d.endpoint_id = $2 and d.status = 'pending'
), resumed as (
    update webhook_deliveries d
    set next_attempt_at = now()
    from changed c, old o
    where c.enabled and not o.enabled
      and d.workspace_id = $1 and d.endpoint_id = $2 and d.status = 'pending'
      and d.next_attempt_at is null
)
select * from changed
"""  # noqa: S608 - composed of constants; values are $n parameters
DELETE_ENDPOINT = """
delete from webhook_endpoints where workspace_id = $1 and id = $2
returning id, now() as deleted_at
"""
# A new secret ($3); the one it replaces signs too for $4 seconds.
ROTATE_SECRET = f"""
update webhook_endpoints p
set previous_secret = p.secret,
    previous_secret_expires_at = now() + make_interval(secs => $4),
    secret = $3, updated_at = now()
where p.workspace_id = $1 and p.id = $2
returning {ENDPOINT_COLUMNS}
"""  # noqa: S608 - composed of constants; values are $n parameters

# -- the dispatcher ------------------------------------------------------------------------

# The workspaces that have an enabled endpoint.
SELECT_HOOKED_WORKSPACES = """
select distinct workspace_id from webhook_endpoints where enabled
"""

# One round: up to $2 enabled endpoints (of the workspaces $1, or all when null)
# that have complete events after their cursor, each locked (skipping those another
# instance holds); up to $3 events each, queued for those whose types match, and
# each cursor moved past what was read. Notifies DELIVERIES_CHANNEL when it queued.
FAN_OUT = f"""
with due as (
    select p.workspace_id, p.id, p.event_types, p.cursor_txid, p.cursor_seq
    from webhook_endpoints p
    where p.enabled and ($1::uuid[] is null or p.workspace_id = any($1::uuid[]))
      and exists (select 1 from events e
                  where e.workspace_id = p.workspace_id
                    and (e.txid, e.seq) > (p.cursor_txid, p.cursor_seq) and {COMPLETE})
    limit $2
    for update of p skip locked
), batch as (
    select p.workspace_id, p.id as endpoint_id, p.event_types, e.txid, e.seq, e.type,
           coalesce(e.document_id, e.entity_ids[1]) as ordering_key
    from due p
    cross join lateral (
        select e.txid, e.seq, e.type, e.document_id, e.entity_ids
        from events e
        where e.workspace_id = p.workspace_id
          and (e.txid, e.seq) > (p.cursor_txid, p.cursor_seq) and {COMPLETE}
        order by e.txid, e.seq
        limit $3
    ) e
), queued as (
    insert into webhook_deliveries (workspace_id, endpoint_id, event_txid, event_seq,
                                    event_type, ordering_key)
    select workspace_id, endpoint_id, txid, seq, type, ordering_key
    from batch
    where cardinality(event_types) = 0 or type = any(event_types)
    order by txid, seq
    on conflict do nothing
    returning workspace_id
), moved as (
    update webhook_endpoints p
    set cursor_txid = last.txid, cursor_seq = last.seq
    from (select distinct on (workspace_id, endpoint_id) workspace_id, endpoint_id, txid, seq
          from batch
          order by workspace_id, endpoint_id, txid desc, seq desc) last
    where p.workspace_id = last.workspace_id and p.id = last.endpoint_id
    returning p.id
), told as (
    select pg_notify('{DELIVERIES_CHANNEL}', '') from (select 1 from queued limit 1) q
)
select (select count(*) from batch) as read, (select count(*) from queued) as queued,
       (select count(*) from moved) as endpoints, (select count(*) from told) as told
"""  # noqa: S608 - composed of constants; values are $n parameters

# -- the workers ---------------------------------------------------------------------------

_EARLIER_PENDING = """
    select 1 from webhook_deliveries e
    where e.workspace_id = d.workspace_id and e.endpoint_id = d.endpoint_id
      and e.ordering_key = d.ordering_key and e.status = 'pending'
      and (e.event_txid, e.event_seq) < (d.event_txid, d.event_seq)"""

# Up to $2 due deliveries of enabled endpoints, oldest due first, each waiting for
# none earlier of its object: each attempt counted, recorded in_progress, and held
# $1 seconds (the lease). An attempt still in_progress from a claim before is
# marked interrupted. Returns what the attempt needs: the endpoint, its secrets, the
# event (null columns if the retention purged it).
CLAIM_DUE = f"""
with due as (
    select d.workspace_id, d.id
    from webhook_deliveries d
    join webhook_endpoints p on p.workspace_id = d.workspace_id and p.id = d.endpoint_id
    where d.status = 'pending' and d.next_attempt_at <= now() and p.enabled
      and not exists ({_EARLIER_PENDING})
    order by d.next_attempt_at
    limit $2
    for update of d skip locked
), claimed as (
    update webhook_deliveries d
    set attempts = d.attempts + 1, last_attempt_at = now(),
        next_attempt_at = now() + make_interval(secs => $1)
    from due
    where d.workspace_id = due.workspace_id and d.id = due.id
    returning d.workspace_id, d.id, d.endpoint_id, d.event_txid, d.event_seq, d.attempts,
              d.created_at
), interrupted as (
    update webhook_attempts a
    set status = 'interrupted',
        error = 'The instance making this attempt stopped before it finished.'
    from claimed c
    where a.workspace_id = c.workspace_id and a.delivery_id = c.id
      and a.status = 'in_progress'
), started as (
    insert into webhook_attempts (workspace_id, delivery_id, number)
    select workspace_id, id, attempts from claimed
)
select c.workspace_id, c.id as delivery_id, c.endpoint_id, c.attempts as attempt,
       c.created_at as queued_at, p.url, p.secret,
       case when p.previous_secret_expires_at > now() then p.previous_secret
       end as previous_secret,
       {EVENT_COLUMNS}
from claimed c
join webhook_endpoints p on p.workspace_id = c.workspace_id and p.id = c.endpoint_id
left join events e on e.workspace_id = c.workspace_id and e.txid = c.event_txid
                  and e.seq = c.event_seq
"""  # noqa: S608 - composed of constants; values are $n parameters

_ATTEMPT_DONE = """
    update webhook_attempts
    set status = {status}, duration_ms = $5, response_status = $6, response_body = $7,
        error = $8
    where workspace_id = $1 and delivery_id = $3 and number = $4"""

# Attempt $4 at delivery $3 (endpoint $2) succeeded: the delivery is done, the
# deliveries of its object that waited for it are due now, and the endpoint is no
# longer failing.
RECORD_SUCCESS = f"""
with attempt as (
    {_ATTEMPT_DONE.format(status="'succeeded'")}
), delivery as (
    update webhook_deliveries
    set status = 'succeeded', delivered_at = now(), next_attempt_at = null
    where workspace_id = $1 and id = $3 and status = 'pending'
    returning ordering_key, event_txid, event_seq
), successors as (
    update webhook_deliveries s
    set next_attempt_at = now()
    from delivery d
    where s.workspace_id = $1 and s.endpoint_id = $2 and s.ordering_key = d.ordering_key
      and s.status = 'pending' and (s.event_txid, s.event_seq) > (d.event_txid, d.event_seq)
      and s.next_attempt_at > now()
), endpoint as (
    update webhook_endpoints set failing_since = null
    where workspace_id = $1 and id = $2 and failing_since is not null
)
select count(*) from delivery
"""  # noqa: S608 - composed of constants; values are $n parameters

# Whether a failing endpoint (``p``) is to be disabled now: it answered 410 Gone ($9),
# or it has been failing for $13 seconds.
_DISABLE = ("($9 or coalesce(p.failing_since <= now() - make_interval(secs => $13), "
            "false))")

# Attempt $4 at delivery $3 (endpoint $2) failed ($5-$8: what came back). The
# endpoint is failing from now on if it was not; it is disabled ($10: the reason)
# when $9 (it answered 410 Gone) or when it has been failing for $13 seconds. The
# delivery (if no other claim took it since) is retried in $11 seconds, or failed
# for good once queued longer than $12 seconds ago, or paused if the endpoint is
# disabled; the later deliveries of its object wait for its retry.
RECORD_FAILURE = f"""
with attempt as (
    {_ATTEMPT_DONE.format(status="'failed'")}
), endpoint as (
    update webhook_endpoints p
    set failing_since = coalesce(p.failing_since, now()),
        enabled = not {_DISABLE},
        disabled_at = case when {_DISABLE} then now() end,
        disabled_reason = case when {_DISABLE} then $10 end
    where p.workspace_id = $1 and p.id = $2 and p.enabled
      and (p.failing_since is null or {_DISABLE})
    returning p.enabled
), state as (
    select coalesce((select enabled from endpoint),
                    (select enabled from webhook_endpoints where workspace_id = $1 and id = $2),
                    false) as enabled,
           exists (select 1 from endpoint where not enabled) as disabled_now
), delivery as (
    update webhook_deliveries d
    set status = case when d.created_at <= now() - make_interval(secs => $12)
                      then 'failed' else 'pending' end,
        next_attempt_at = case when d.created_at <= now() - make_interval(secs => $12)
                                    or not s.enabled then null
                               else now() + make_interval(secs => $11) end
    from state s
    where d.workspace_id = $1 and d.id = $3 and d.attempts = $4 and d.status = 'pending'
    returning d.status, d.next_attempt_at, d.ordering_key, d.event_txid, d.event_seq
), successors as (
    update webhook_deliveries x
    set next_attempt_at = d.next_attempt_at
    from delivery d, state s
    where not s.disabled_now and d.next_attempt_at is not null
      and x.workspace_id = $1 and x.endpoint_id = $2 and x.ordering_key = d.ordering_key
      and x.status = 'pending' and (x.event_txid, x.event_seq) > (d.event_txid, d.event_seq)
      and x.next_attempt_at < d.next_attempt_at
), paused as (
    update webhook_deliveries x
    set next_attempt_at = null
    from state s
    where s.disabled_now and x.workspace_id = $1 and x.endpoint_id = $2
      and x.status = 'pending' and x.id <> $3
)
select (select status from delivery) as status,
       (select disabled_now from state) as disabled
"""  # noqa: S608 - composed of constants; values are $n parameters

# -- reading deliveries --------------------------------------------------------------------

DELIVERY_COLUMNS = """
    d.id, d.endpoint_id, d.event_txid::text::bigint as event_txid, d.event_seq,
    d.event_type, d.status, d.attempts, d.next_attempt_at, d.created_at, d.last_attempt_at,
    d.delivered_at"""

# A page of an endpoint's deliveries, newest first: $1 workspace, $2 endpoint, $3
# status (or null), $4/$5 the cursor's time and id (or null), $6 offset, $7 rows.
# Each row carries the total (when $8) and, after a cursor, whether anything precedes
# it; an empty page is one row of nulls.
DELIVERY_PAGE = f"""
select case when $8 then (select count(*) from webhook_deliveries d
                          where d.workspace_id = $1 and d.endpoint_id = $2
                            and ($3::text is null or d.status = $3)) end as total_count,
       case when $4::timestamptz is not null then exists (
           select 1 from webhook_deliveries d
           where d.workspace_id = $1 and d.endpoint_id = $2
             and ($3::text is null or d.status = $3)
             and (d.created_at, d.id) >= ($4::timestamptz, $5::uuid)) end as has_preceding,
       p.*
from (select 1) one
left join lateral (
    select {DELIVERY_COLUMNS}
    from webhook_deliveries d
    where d.workspace_id = $1 and d.endpoint_id = $2 and ($3::text is null or d.status = $3)
      and ($4::timestamptz is null or (d.created_at, d.id) < ($4::timestamptz, $5::uuid))
    order by d.created_at desc, d.id desc
    offset $6 limit $7
) p on true
order by p.created_at desc, p.id desc
"""  # noqa: S608 - composed of constants; values are $n parameters
SELECT_DELIVERY = f"""
select {DELIVERY_COLUMNS}, p.enabled as endpoint_enabled,
       exists (select 1 from webhook_attempts a
               where a.workspace_id = d.workspace_id and a.delivery_id = d.id
                 and a.status = 'in_progress') and d.next_attempt_at > now() as in_flight
from webhook_deliveries d
join webhook_endpoints p on p.workspace_id = d.workspace_id and p.id = d.endpoint_id
where d.workspace_id = $1 and d.id = $2
"""  # noqa: S608 - composed of constants; values are $n parameters
SELECT_ATTEMPTS = """
select delivery_id, number, status, started_at, duration_ms, response_status, response_body,
       error
from webhook_attempts
where workspace_id = $1 and delivery_id = any($2::uuid[])
order by delivery_id, number
"""
# A delivery again, due now (done or not), unless an attempt at it is in progress.
RETRY_DELIVERY = f"""
update webhook_deliveries d
set status = 'pending', next_attempt_at = now(), delivered_at = null
where d.workspace_id = $1 and d.id = $2
  and not (d.status = 'pending' and d.next_attempt_at > now()
           and exists (select 1 from webhook_attempts a
                       where a.workspace_id = d.workspace_id and a.delivery_id = d.id
                         and a.status = 'in_progress'))
returning {DELIVERY_COLUMNS}
"""  # noqa: S608 - composed of constants; values are $n parameters

# Deliveries queued before $1, a batch ($2) at a time (their attempts go with them).
PURGE_DELIVERIES = """
delete from webhook_deliveries
where ctid = any(array(select ctid from webhook_deliveries where created_at < $1 limit $2
                       for update skip locked))
"""


async def insert_endpoint(db: Executor, workspace_id: uuid.UUID, endpoint_id: uuid.UUID, *,
                          url: str, event_types: Sequence[str], description: str | None,
                          secret: bytes, max_endpoints: int) -> Mapping[str, Any] | None:
    """The new endpoint, or None when the workspace has ``max_endpoints`` already."""
    return await db.fetchrow(INSERT_ENDPOINT, workspace_id, endpoint_id, url,
                             list(event_types), description, secret, max_endpoints)


async def select_endpoints(db: Executor, workspace_id: uuid.UUID) -> list[Mapping[str, Any]]:
    return list(await db.fetch(SELECT_ENDPOINTS, workspace_id))


async def select_endpoint(db: Executor, workspace_id: uuid.UUID,
                          endpoint_id: uuid.UUID) -> Mapping[str, Any] | None:
    return await db.fetchrow(SELECT_ENDPOINT, workspace_id, endpoint_id)


async def update_endpoint(db: Executor, workspace_id: uuid.UUID, endpoint_id: uuid.UUID, *,
                          url: str | None, event_types: Sequence[str] | None,
                          set_description: bool, description: str | None,
                          enabled: bool | None,
                          disabled_reason: str | None) -> Mapping[str, Any] | None:
    return await db.fetchrow(
        UPDATE_ENDPOINT, workspace_id, endpoint_id, url,
        list(event_types) if event_types is not None else None, set_description,
        description, enabled, disabled_reason)


async def delete_endpoint(db: Executor, workspace_id: uuid.UUID,
                          endpoint_id: uuid.UUID) -> Mapping[str, Any] | None:
    return await db.fetchrow(DELETE_ENDPOINT, workspace_id, endpoint_id)


async def rotate_secret(db: Executor, workspace_id: uuid.UUID, endpoint_id: uuid.UUID,
                        secret: bytes, overlap_seconds: float) -> Mapping[str, Any] | None:
    return await db.fetchrow(ROTATE_SECRET, workspace_id, endpoint_id, secret,
                             float(overlap_seconds))


async def select_hooked_workspaces(db: Executor) -> list[uuid.UUID]:
    return [row["workspace_id"] for row in await db.fetch(SELECT_HOOKED_WORKSPACES)]


async def fan_out(db: Executor, workspace_ids: Sequence[uuid.UUID] | None, *,
                  endpoints: int, events: int) -> Mapping[str, Any]:
    """One round of the dispatcher (see FAN_OUT): how many events it read, deliveries
    it queued, endpoints it moved."""
    row = await db.fetchrow(FAN_OUT, list(workspace_ids) if workspace_ids is not None
                            else None, endpoints, events)
    assert row is not None
    return row


async def claim_due(db: Executor, *, lease_seconds: float,
                    limit: int) -> list[Mapping[str, Any]]:
    return list(await db.fetch(CLAIM_DUE, float(lease_seconds), limit))


async def record_success(db: Executor, workspace_id: uuid.UUID, endpoint_id: uuid.UUID,
                         delivery_id: uuid.UUID, attempt: int, *, duration_ms: int,
                         response_status: int | None, response_body: str | None) -> bool:
    done = await db.fetchval(RECORD_SUCCESS, workspace_id, endpoint_id, delivery_id, attempt,
                             duration_ms, response_status, response_body, None)
    return bool(done)


async def record_failure(db: Executor, workspace_id: uuid.UUID, endpoint_id: uuid.UUID,
                         delivery_id: uuid.UUID, attempt: int, *, duration_ms: int,
                         response_status: int | None, response_body: str | None,
                         error: str | None, gone: bool, disabled_reason: str,
                         retry_in_seconds: float, horizon_seconds: float,
                         disable_after_seconds: float) -> Mapping[str, Any]:
    row = await db.fetchrow(
        RECORD_FAILURE, workspace_id, endpoint_id, delivery_id, attempt, duration_ms,
        response_status, response_body, error, gone, disabled_reason,
        float(retry_in_seconds), float(horizon_seconds), float(disable_after_seconds))
    assert row is not None
    return row


async def select_delivery_page(
    db: Executor, workspace_id: uuid.UUID, endpoint_id: uuid.UUID, *, status: str | None,
    after: tuple[dt.datetime, uuid.UUID] | None, offset: int, limit: int,
    with_total: bool,
) -> list[Mapping[str, Any]]:
    """Up to ``limit + 1`` rows of DELIVERY_PAGE."""
    after_at, after_id = after if after is not None else (None, None)
    return list(await db.fetch(DELIVERY_PAGE, workspace_id, endpoint_id, status, after_at,
                               after_id, offset, limit + 1, with_total))


async def select_delivery(db: Executor, workspace_id: uuid.UUID,
                          delivery_id: uuid.UUID) -> Mapping[str, Any] | None:
    return await db.fetchrow(SELECT_DELIVERY, workspace_id, delivery_id)


async def select_attempts(db: Executor, workspace_id: uuid.UUID,
                          delivery_ids: Sequence[uuid.UUID]) -> list[Mapping[str, Any]]:
    if not delivery_ids:
        return []
    return list(await db.fetch(SELECT_ATTEMPTS, workspace_id, list(delivery_ids)))


async def retry_delivery(db: Executor, workspace_id: uuid.UUID,
                         delivery_id: uuid.UUID) -> Mapping[str, Any] | None:
    """The delivery, due now; None while an attempt at it is in progress."""
    return await db.fetchrow(RETRY_DELIVERY, workspace_id, delivery_id)


async def purge_deliveries(db: Executor, before: dt.datetime, batch: int) -> int:
    """Delete up to ``batch`` deliveries queued before ``before``; how many."""
    return int((await db.execute(PURGE_DELIVERIES, before, batch)).split()[-1])
