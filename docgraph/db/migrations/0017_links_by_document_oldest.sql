-- A document's links, oldest first, straight from an index: SELECT_LINKS_BY_DOCUMENT,
-- the links a page of an entity's documents carries (documents._PAGE_LINKS) and the
-- links a written page carries (page_json) all read them in (created_at, id) order.
-- The one-link-per-(document, entity) index of 0006 gives them by entity, so each
-- document's links were sorted on every read: a sort per document of the page. This
-- index carries every column those reads take, so they are index-only and unsorted.
create index links_document_oldest on links (workspace_id, document_id, created_at, id)
    include (entity_type, entity_id, role);
