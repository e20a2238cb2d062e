-- Deleting a document moves its bytes and preview under its workspace's
-- deleted/ prefix (storage.keys.deleted_key: derived from the workspace and
-- document ids), so every URL signed for them before answers 404 at once.
-- bytes_moved_at records that the move finished; the deletion is recorded
-- first, so a move a crash or an outage interrupted is found here and
-- finished by the sweep (or by the DELETE retried). Documents deleted before
-- this column existed have it null: the sweep moves their bytes too.
alter table documents add column bytes_moved_at timestamptz;

alter table documents add constraint documents_moved_only_when_deleted
    check (bytes_moved_at is null or deleted_at is not null);

-- The sweep's scan for deletions whose bytes still answer at their old keys.
create index documents_deleted_unmoved on documents (deleted_at)
    where deleted_at is not null and bytes_moved_at is null;
