-- Signed uploads handed out by requestUploadUrl and not yet recorded as
-- documents. While pending they count toward the workspace's quota; when a
-- document records one its row goes and its size moves to used_bytes; the
-- sweeper removes the bytes of those never recorded.
create table uploads (
    workspace_id    uuid        not null references workspaces (id) on delete cascade,
    id              uuid        not null,
    storage_path    text        not null check (char_length(storage_path) between 1 and 1024),
    file_name       text        not null check (char_length(file_name) between 1 and 255),
    mime_type       text        not null
                    check (char_length(mime_type) <= 255
                           and mime_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'),
    size_bytes      bigint      not null check (size_bytes > 0),
    -- Declared by the client when it asked for the URL; checked before recording.
    checksum_sha256 bytea       check (octet_length(checksum_sha256) = 32),
    created_at      timestamptz not null default now(),
    expires_at      timestamptz not null,
    -- Set by the sweeper once the bytes were seen after the URL expired. An
    -- expired upload whose bytes never arrived is forgotten, freeing its quota.
    arrived_at      timestamptz,
    primary key (workspace_id, id),
    unique (workspace_id, storage_path)
);

-- The sweeper's two scans: never recorded (by age), URL expired and bytes not
-- yet seen (by expiry).
create index uploads_created on uploads (created_at);
create index uploads_expired_unseen on uploads (expires_at) where arrived_at is null;
