-- The data model of DESIGN.md: workspaces, API keys, entities, folders,
-- documents and links. Every primary and foreign key leads with
-- workspace_id, so the schema can be distributed by workspace.

create table workspaces (
    id          uuid        primary key,
    name        text        not null check (char_length(name) between 1 and 255),
    quota_bytes bigint      not null default 10737418240 check (quota_bytes >= 0),
    used_bytes  bigint      not null default 0 check (used_bytes >= 0),
    created_at  timestamptz not null default now()
);

create table api_keys (
    workspace_id uuid        not null references workspaces (id) on delete cascade,
    id           uuid        not null,
    -- SHA-256 of the whole key; the key itself is never stored.
    key_hash     bytea       not null unique check (octet_length(key_hash) = 32),
    -- The first characters of the key, so people can tell their keys apart.
    prefix       text        not null check (char_length(prefix) between 4 and 16),
    name         text        check (char_length(name) <= 255),
    scopes       text[]      not null
                 check (cardinality(scopes) > 0
                        and scopes <@ array['read:documents', 'write:documents']::text[]),
    -- Requests per rate-limit window; null means the deployment's default.
    rate_limit   integer     check (rate_limit > 0),
    created_at   timestamptz not null default now(),
    revoked_at   timestamptz,
    primary key (workspace_id, id)
);

create index api_keys_id on api_keys (id);

-- Contacts, companies, deals, events, matters and tasks: one table, keyed by
-- UUID within the workspace. GraphQL calls a company a Business.
create table entities (
    workspace_id uuid        not null references workspaces (id) on delete cascade,
    id           uuid        not null,
    entity_type  text        not null
                 check (entity_type in ('contact', 'company', 'deal', 'event', 'matter', 'task')),
    name         text        check (char_length(name) between 1 and 255),
    attributes   jsonb       not null default '{}'::jsonb
                 check (jsonb_typeof(attributes) = 'object'),
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    primary key (workspace_id, id),
    -- The target of links' foreign key, so a link's entity_type always matches.
    unique (workspace_id, entity_type, id)
);

create index entities_by_type on entities (workspace_id, entity_type, created_at desc, id desc);

-- Folders are created on demand, the first time a document names one.
create table folders (
    workspace_id uuid        not null references workspaces (id) on delete cascade,
    path         text        not null
                 check (char_length(path) between 1 and 1024
                        and path ~ '^/' and path !~ '//' and path !~ '\x00'),
    created_at   timestamptz not null default now(),
    primary key (workspace_id, path)
);

create table documents (
    workspace_id     uuid        not null references workspaces (id) on delete cascade,
    id               uuid        not null,
    name             text        not null check (char_length(name) between 1 and 255),
    description      text        check (char_length(description) <= 10000),
    mime_type        text        not null
                     check (char_length(mime_type) <= 255
                            and mime_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'),
    size_bytes       bigint      not null default 0 check (size_bytes >= 0),
    storage_path     text        not null
                     check (char_length(storage_path) between 1 and 1024),
    folder           text,
    tags             text[]      not null default '{}'
                     check (array_position(tags, null) is null and cardinality(tags) <= 100),
    type             text        not null default 'other'
                     check (type in ('identification', 'bank_statement', 'tax_form', 'contract',
                                     'license', 'other')),
    status           text        not null default 'pending'
                     check (status in ('pending', 'verified', 'rejected', 'expired')),
    user_data        jsonb       not null default '{}'::jsonb
                     check (jsonb_typeof(user_data) = 'object'),
    verified_at      timestamptz,
    rejection_reason text        check (char_length(rejection_reason) between 1 and 1000),
    checksum_sha256  bytea       check (octet_length(checksum_sha256) = 32),
    image_width      integer     check (image_width > 0),
    image_height     integer     check (image_height > 0),
    preview_path     text,
    preview_width    integer     check (preview_width > 0),
    preview_height   integer     check (preview_height > 0),
    created_by       uuid,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    deleted_at       timestamptz,
    primary key (workspace_id, id),
    foreign key (workspace_id, folder) references folders (workspace_id, path),
    -- verified_at only on verified documents, rejection_reason only on rejected ones.
    constraint documents_verified_at_matches_status
        check ((status = 'verified') = (verified_at is not null)),
    constraint documents_rejection_reason_matches_status
        check ((status = 'rejected') = (rejection_reason is not null)),
    constraint documents_image_size_complete
        check ((image_width is null) = (image_height is null)),
    constraint documents_preview_complete
        check ((preview_path is null) = (preview_width is null)
               and (preview_path is null) = (preview_height is null))
);

-- One live document per storage path per workspace (409 storage_conflict).
create unique index documents_live_storage_path
    on documents (workspace_id, storage_path) where deleted_at is null;

-- The workspace's document list, newest first, and its filters.
create index documents_newest
    on documents (workspace_id, created_at desc, id desc) where deleted_at is null;
create index documents_by_type_status
    on documents (workspace_id, type, status, created_at desc, id desc) where deleted_at is null;
create index documents_by_folder
    on documents (workspace_id, folder, created_at desc, id desc) where deleted_at is null;
create index documents_by_tags on documents using gin (tags) where deleted_at is null;
-- Soft-deleted documents awaiting removal of their bytes.
create index documents_deleted on documents (deleted_at) where deleted_at is not null;

create table links (
    workspace_id uuid        not null,
    id           uuid        not null,
    document_id  uuid        not null,
    entity_type  text        not null
                 check (entity_type in ('contact', 'company', 'deal', 'event', 'matter', 'task')),
    entity_id    uuid        not null,
    role         text        check (char_length(role) between 1 and 64),
    created_at   timestamptz not null default now(),
    primary key (workspace_id, id),
    -- One link per (document, entity_type, entity_id).
    unique (workspace_id, document_id, entity_type, entity_id),
    foreign key (workspace_id, document_id)
        references documents (workspace_id, id) on delete cascade,
    foreign key (workspace_id, entity_type, entity_id)
        references entities (workspace_id, entity_type, id) on delete cascade
);

-- An entity's documents (a contact's documents, optionally by role; a
-- business's documents), carrying what the list needs to sort and filter.
create index links_by_entity
    on links (workspace_id, entity_type, entity_id, role) include (document_id, created_at);
