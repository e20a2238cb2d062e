-- Events (issue 17): the transactional outbox and the audit trail.
--
-- One row per change, inserted by the very statement that makes the change
-- (a data-modifying CTE of that statement, see db/events.py): a change that
-- rolls back leaves no event, and no event exists without its change.
create table events (
    workspace_id uuid        not null,
    -- The order of insertion, service-wide; it breaks ties within a transaction.
    seq          bigint      generated always as identity,
    -- The transaction that wrote the row. Sequence values are taken before
    -- commit, so they commit out of order; readers page by (txid, seq) and read
    -- only the rows of transactions older than every transaction still running
    -- (pg_snapshot_xmin): a row that commits later always sorts after what a
    -- reader has already seen.
    txid         xid8        not null default pg_current_xact_id(),
    type         text        not null
                 check (type ~ '^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$'),
    -- Database time: the start of the change's transaction.
    occurred_at  timestamptz not null default now(),
    -- The API key that made the change, or 'system' (background jobs).
    actor        text        not null
                 check (actor = 'system'
                        or actor ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    -- What the event is about, for the filters: the document (document and link
    -- events) and the entities (the entity itself, the link's entity, the
    -- entities a document was linked to when it changed).
    document_id  uuid,
    entity_ids   uuid[]      not null default '{}',
    -- The object as the API shows it (db/events.py), e.g. {"document": {...}}.
    data         jsonb       not null check (jsonb_typeof(data) = 'object'),
    -- A workspace's events in the readers' order (events after a position).
    primary key (workspace_id, txid, seq)
);

-- The audit trail: newest first, and since/until.
create index events_newest on events (workspace_id, occurred_at desc, seq desc);
-- The audit trail of one document.
create index events_by_document on events (workspace_id, document_id, occurred_at desc, seq desc)
    where document_id is not null;
-- Events about an entity (entity_ids @> array[...]).
create index events_by_entity on events using gin (entity_ids);
-- The retention purge: rows are appended in time order, so a block range index
-- finds the oldest ones for next to no upkeep.
create index events_occurred_at on events using brin (occurred_at);

-- Wake listeners on every instance (webhook workers, subscriptions): delivered at
-- commit, never for a change that rolls back. The payload is the workspace only;
-- readers then read its events after their last position. Notifications with the
-- same payload within a transaction are delivered once.
create function events_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('docgraph_events', new.workspace_id::text);
    return null;
end $$;

create trigger events_notify after insert on events
    for each row execute function events_notify();

-- A time in an event's data as GraphQL writes a DateTime (Python's isoformat,
-- in UTC): 2026-04-17T09:00:00.123456+00:00, without the fraction when it is 0.
create function docgraph_json_time(t timestamptz) returns text
    language sql stable parallel safe
    return to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
           || case when extract(microseconds from t at time zone 'UTC')::bigint % 1000000 = 0
                   then '' else to_char(t at time zone 'UTC', '.US') end
           || '+00:00';
