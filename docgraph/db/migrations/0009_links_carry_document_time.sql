-- A page of an entity's documents, newest first, straight from an index.
--
-- An entity's documents are ordered by the document's created_at, which links
-- did not carry: every page read and sorted all of the entity's links and
-- documents before keeping 25. Each link now carries its document's
-- created_at (documents never change it), and one index per entity yields a
-- page in either order people ask for (the document's time, the link's time)
-- by reading only the page's rows; counting an entity's links reads the index
-- alone.
alter table links add column document_created_at timestamptz;

update links l set document_created_at = d.created_at
from documents d
where d.workspace_id = l.workspace_id and d.id = l.document_id;

-- Statements that insert links set it; a writer that names only the old
-- columns (a bulk load) gets it from the document. Loads that turn triggers
-- off (session_replication_role = replica) leave it null: `docgraph migrate`
-- and `docgraph serve` complete such rows (db.links.COMPLETE_DOCUMENT_TIMES).
create function links_document_created_at() returns trigger language plpgsql as $$
begin
    if new.document_created_at is null then
        select d.created_at into new.document_created_at
        from documents d where d.workspace_id = new.workspace_id and d.id = new.document_id;
    end if;
    return new;
end $$;

create trigger links_document_created_at before insert on links
    for each row execute function links_document_created_at();

-- A deleted document leaves every list at once; its links go with it (they
-- were invisible already, and the sweep removed them with the document).
delete from links l
using documents d
where d.workspace_id = l.workspace_id and d.id = l.document_id and d.deleted_at is not null;

-- Pages by the document's time, and by the link's time (seed 000's linked_at).
create index links_entity_documents_newest
    on links (workspace_id, entity_type, entity_id, document_created_at desc, document_id desc)
    include (id, role, created_at);
create index links_entity_newest
    on links (workspace_id, entity_type, entity_id, created_at desc, id desc)
    include (document_id, role, document_created_at);
-- Rows a bulk load left without their document's time (see above).
create index links_without_document_time on links (workspace_id, document_id)
    where document_created_at is null;
drop index links_by_entity;
