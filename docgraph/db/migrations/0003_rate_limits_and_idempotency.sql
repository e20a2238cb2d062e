-- State the docgraph instances share: rate-limit windows and idempotency
-- records. It depends only on 0001 (workspaces).

-- One row per rate-limited client: an API key ('k:' || key id) or, for
-- traffic without a valid key, a client address ('a:' || address). A window
-- starts at the client's first request and lasts the configured length;
-- `hits` counts what it let through. UNLOGGED: counters are written on every
-- request and losing them in a crash only resets the current windows. No
-- index besides the key, so an update that only counts stays a HOT update.
create unlogged table rate_limit_windows (
    bucket     text        primary key check (char_length(bucket) <= 200),
    window_end timestamptz not null,
    hits       integer     not null check (hits >= 0),
    -- Whether the request that last touched the row was let through.
    allowed    boolean     not null
) with (fillfactor = 50);

-- The first response to a request carrying an Idempotency-Key, replayed to
-- retries for the retention period. While the first request runs, status is
-- null and `attempt` identifies it; `locked_until` is its lease, after which
-- a retry may run the request again (its instance died).
create table idempotency_records (
    workspace_id uuid        not null references workspaces (id) on delete cascade,
    key          text        not null check (char_length(key) between 1 and 255),
    fingerprint  bytea       not null check (octet_length(fingerprint) = 32),
    attempt      uuid        not null,
    locked_until timestamptz,
    status       smallint    check (status between 100 and 599),
    headers      jsonb,
    body         bytea,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null,
    primary key (workspace_id, key),
    check ((status is null) = (body is null) and (status is null) = (headers is null))
);

create index idempotency_records_expiry on idempotency_records (expires_at);
