-- Webhooks (issue 17, item 2): endpoints a workspace registers, the deliveries
-- of events to them (a queue in PostgreSQL), and every attempt at one.

-- A key may manage its workspace's webhooks (manage:webhooks).
alter table api_keys drop constraint api_keys_scopes_check;
alter table api_keys add constraint api_keys_scopes_check
    check (cardinality(scopes) > 0
           and scopes <@ array['read:documents', 'write:documents', 'manage:webhooks']::text[]);

create table webhook_endpoints (
    workspace_id   uuid        not null references workspaces (id) on delete cascade,
    id             uuid        not null,
    url            text        not null check (char_length(url) between 1 and 2048),
    -- The event types it receives; empty: every type.
    event_types    text[]      not null default '{}'
                   check (array_position(event_types, null) is null
                          and cardinality(event_types) <= 64),
    description    text        check (char_length(description) <= 1000),
    -- A disabled endpoint gets no delivery; disabled_reason says why (its failures,
    -- a 410 Gone, or a client that disabled it).
    enabled        boolean     not null default true,
    disabled_at    timestamptz,
    disabled_reason text       check (char_length(disabled_reason) <= 1000),
    -- The signing secret (its bytes; shown once, as whsec_ and their base64), and the
    -- one a rotation replaced, still signed with until previous_secret_expires_at.
    secret         bytea       not null check (octet_length(secret) between 24 and 64),
    previous_secret bytea      check (octet_length(previous_secret) between 24 and 64),
    previous_secret_expires_at timestamptz,
    -- The dispatcher's cursor: the outbox position (events.txid, events.seq) after
    -- which events are not yet turned into deliveries to this endpoint. A new
    -- endpoint starts at the frontier (events.SELECT_FRONTIER): it gets the events
    -- committed from its creation on. Moved in the statement that queues the
    -- deliveries, so an event is queued once, however many instances dispatch.
    cursor_txid    xid8        not null default pg_snapshot_xmin(pg_current_snapshot()),
    cursor_seq     bigint      not null default 0,
    -- Since when every attempt has failed (null: the last one succeeded, or none
    -- was made yet).
    failing_since  timestamptz,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    primary key (workspace_id, id),
    check (enabled = (disabled_at is null)),
    check ((previous_secret is null) = (previous_secret_expires_at is null))
);

-- The dispatcher's round: the enabled endpoints (of some workspaces).
create index webhook_endpoints_enabled on webhook_endpoints (workspace_id) where enabled;

-- One event to one endpoint. Pending until an attempt succeeds (succeeded) or its
-- retries run out (failed). next_attempt_at: when the next attempt may start; a
-- claimed attempt holds it a lease ahead (a crash only delays the delivery); null
-- once done, or while its endpoint is disabled.
create table webhook_deliveries (
    workspace_id    uuid        not null,
    id              uuid        not null default gen_random_uuid(),
    endpoint_id     uuid        not null,
    -- The event (its position in the outbox; its id, evt_..., is webhook-id).
    event_txid      xid8        not null,
    event_seq       bigint      not null,
    event_type      text        not null,
    -- The document (or else the entity) the event is about: deliveries of one
    -- object to one endpoint are made in the order of their events.
    ordering_key    uuid,
    status          text        not null default 'pending'
                    check (status in ('pending', 'succeeded', 'failed')),
    attempts        integer     not null default 0 check (attempts >= 0),
    next_attempt_at timestamptz default now(),
    created_at      timestamptz not null default now(),
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    primary key (workspace_id, id),
    unique (workspace_id, endpoint_id, event_txid, event_seq),
    foreign key (workspace_id, endpoint_id)
        references webhook_endpoints (workspace_id, id) on delete cascade,
    check ((status = 'pending') or next_attempt_at is null)
);

-- The queue: pending deliveries by when they are due.
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at)
    where status = 'pending';
-- A delivery waits for the earlier pending deliveries of its object to its endpoint.
create index webhook_deliveries_in_order on webhook_deliveries
    (workspace_id, endpoint_id, ordering_key, event_txid, event_seq)
    where status = 'pending' and ordering_key is not null;
-- An endpoint's deliveries, newest first.
create index webhook_deliveries_newest on webhook_deliveries
    (workspace_id, endpoint_id, created_at desc, id desc);
-- The retention purge (rows are appended in time order).
create index webhook_deliveries_created_at on webhook_deliveries using brin (created_at);

-- Every attempt at a delivery: recorded in_progress when it starts, then
-- succeeded or failed with what the endpoint answered (or why nothing came);
-- interrupted if its instance stopped before it finished (the delivery was
-- claimed again once the lease ran out).
create table webhook_attempts (
    workspace_id    uuid        not null,
    delivery_id     uuid        not null,
    number          integer     not null check (number > 0),
    status          text        not null default 'in_progress'
                    check (status in ('in_progress', 'succeeded', 'failed', 'interrupted')),
    started_at      timestamptz not null default now(),
    duration_ms     integer     check (duration_ms >= 0),
    response_status integer     check (response_status between 100 and 999),
    -- The first bytes of the answer's body (at most 1 KiB, as text).
    response_body   text        check (char_length(response_body) <= 1024),
    error           text        check (char_length(error) <= 1000),
    primary key (workspace_id, delivery_id, number),
    foreign key (workspace_id, delivery_id)
        references webhook_deliveries (workspace_id, id) on delete cascade
);

-- Tell every instance's webhook workers that the endpoints changed (one was
-- registered, enabled or disabled), so that they learn which workspaces have
-- endpoints and look at once at the events of those workspaces.
create function webhook_endpoints_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('docgraph_webhook_deliveries', 'endpoints');
    return null;
end $$;

create trigger webhook_endpoints_notify after insert or update of enabled on webhook_endpoints
    for each statement execute function webhook_endpoints_notify();
