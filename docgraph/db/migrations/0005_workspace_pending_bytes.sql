-- The bytes of a workspace's pending uploads, kept on its row beside
-- used_bytes: a quota check becomes one conditional update of that row,
-- instead of a sum over the uploads table under a lock held for a whole
-- transaction (which serialised every upload of a workspace).
alter table workspaces
    add column pending_bytes bigint not null default 0 check (pending_bytes >= 0);

update workspaces w
set pending_bytes = coalesce((select sum(u.size_bytes) from uploads u
                              where u.workspace_id = w.id), 0);
