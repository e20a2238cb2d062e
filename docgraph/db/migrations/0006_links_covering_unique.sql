-- A document's links (SELECT_LINKS_BY_DOCUMENT, and the links a page of an
-- entity's documents carries) read from the index alone: the one-link-per-
-- (document, entity) index now carries the other columns those reads need,
-- so they no longer visit the table for each link.
alter table links
    add constraint links_one_per_document_entity
    unique (workspace_id, document_id, entity_type, entity_id) include (id, role, created_at);
alter table links drop constraint links_workspace_id_document_id_entity_type_entity_id_key;
