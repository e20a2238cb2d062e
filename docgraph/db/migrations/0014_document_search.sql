-- Full-text search (issue 19): the text extracted from each document's bytes, a
-- weighted search vector over its name, tags, folder, description and that
-- text, and trigram matching of names.

-- pg_trgm: misspelt or partial names. btree_gin: the workspace id leads the
-- GIN indexes, so one tenant's search never walks another's postings. Both are
-- trusted extensions (a database owner may create them).
create extension if not exists pg_trgm;
create extension if not exists btree_gin;

-- The text search configuration (stemming, stop words) of a workspace's
-- documents and queries: 'english' unless chosen otherwise.
alter table workspaces
    add column text_search_config text not null default 'english'
        check (char_length(text_search_config) between 1 and 63);

-- The text extraction job, per document: its state, the extracted text's length
-- in characters, and why it failed or was skipped. A job claims the document
-- (text_claimed_at) and counts the attempt before it works, so a job lost in a
-- crash is noticed and retried, a bounded number of times.
alter table documents
    add column text_status text not null default 'pending'
        check (text_status in ('pending', 'done', 'failed', 'skipped')),
    add column text_length integer check (text_length >= 0),
    add column text_status_reason text check (char_length(text_status_reason) <= 1000),
    add column text_attempts smallint not null default 0 check (text_attempts >= 0),
    add column text_claimed_at timestamptz,
    -- Weighted: name A, tags and folder B, description C, extracted text D.
    add column search_vector tsvector not null default '';

-- Kept in the row (compressed), not in TOAST: ranking reads the vector of every
-- match, and a vector fetched from the page the match is on already costs a third of
-- one fetched from the TOAST table (a few hundred words' vector is about 2 kB). Only
-- a vector too large for a page goes out of line. The price: a larger heap.
alter table documents alter column search_vector set storage main;

-- The extracted text itself, apart from the documents' rows (read only when asked for).
create table document_texts (
    workspace_id uuid        not null,
    document_id  uuid        not null,
    content      text        not null,
    extracted_at timestamptz not null default now(),
    primary key (workspace_id, document_id),
    foreign key (workspace_id, document_id)
        references documents (workspace_id, id) on delete cascade
);

-- The search vector is built here and nowhere else: from the row's name, tags,
-- folder and description (weights A, B, C), in the workspace's configuration,
-- followed by the D-weighted part of the vector the writer gave (the extracted
-- text's, set by the extraction job; kept as it is when only metadata changes).
-- Names and folders are also read with their punctuation as spaces, so that
-- "Acme-NDA-2026.pdf" is found by "acme" and "nda", not only as one file name.
create function documents_search_vector() returns trigger language plpgsql as $$
declare
    config regconfig;
begin
    select w.text_search_config::regconfig into config
    from workspaces w where w.id = new.workspace_id;
    new.search_vector :=
        setweight(to_tsvector(config, new.name || ' '
                              || regexp_replace(new.name, '[[:punct:]]+', ' ', 'g')), 'A')
        || setweight(to_tsvector(config, array_to_string(new.tags, ' ') || ' '
                                 || regexp_replace(coalesce(new.folder, ''), '[[:punct:]]+',
                                                   ' ', 'g')), 'B')
        || setweight(to_tsvector(config, coalesce(new.description, '')), 'C')
        || ts_filter(coalesce(new.search_vector, ''), '{d}');
    return new;
end $$;

create trigger documents_search_vector
    before insert or update of name, description, tags, folder, search_vector on documents
    for each row execute function documents_search_vector();

-- Documents recorded before search existed: their metadata's vector now; their
-- text when the extraction sweep reaches them (they are pending).
update documents set search_vector = '' where deleted_at is null;

create index documents_search on documents using gin (workspace_id, search_vector)
    where deleted_at is null;
create index documents_name_trigrams on documents using gin (workspace_id, name gin_trgm_ops)
    where deleted_at is null;

-- The retry's scan for documents whose extraction is still pending.
create index documents_text_pending on documents (created_at)
    where text_status = 'pending' and deleted_at is null;
