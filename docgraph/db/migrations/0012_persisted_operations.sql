-- Automatic persisted queries: GraphQL documents registered under the SHA-256
-- of their text, so that a client may send the hash alone and any instance
-- (or worker) knows it. Not tenant data: a row is a hash and the text it hashes,
-- which any client could register; it carries no workspace (a Citus reference
-- table, were the service distributed). UNLOGGED: it is a cache — a row lost in
-- a crash is registered again by the next client that sends its hash (the
-- protocol's PersistedQueryNotFound, then the full text). Rows older than the
-- retention are purged; a client that still uses one registers it again.
create unlogged table persisted_operations (
    sha256     text        primary key check (sha256 ~ '^[0-9a-f]{64}$'),
    source     text        not null,
    created_at timestamptz not null default now()
);

create index persisted_operations_age on persisted_operations (created_at);
