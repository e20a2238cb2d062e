-- Search without reading the whole workspace (issue 19). The search index of 0014
-- led with the workspace id: every search read the workspace's posting list, one
-- entry per live document, before it could intersect it with its words' (5 ms
-- at 2,000,000 documents in one workspace, for any query whose words are in more
-- documents than the list has pages). Here each of a document's lexemes is keyed
-- by its workspace: a word's posting list in one workspace is its own key, and a
-- search reads only the postings of its words, in its workspace.

-- Eight hex digits of the workspace id's digest. Two workspaces may share them:
-- then they share postings, and the search's own "workspace_id = $1" (always
-- there) keeps each to its own documents. A prefix costs the index 8 bytes a key.
create function search_key_prefix(workspace_id uuid) returns text
    immutable strict parallel safe language sql
    return left(md5(workspace_id::text), 8);

-- A document's lexemes keyed by its workspace, without positions or weights (the
-- index needs neither: phrases and weights are checked on the row's own vector).
-- Made as one string (lexemes joined by \x01, each prefixed) cut again: 25 µs a
-- document, against 130 µs for a subquery over its lexemes, on every write of a
-- row. The parser never puts a control character in a lexeme; were one there, the
-- pieces would not be one per lexeme, and the subquery makes the keys instead.
create function search_keys(workspace_id uuid, vector tsvector) returns tsvector
    immutable strict parallel safe language plpgsql as $$
declare
    prefix text := search_key_prefix(workspace_id);
    keys text[];
begin
    if length(vector) = 0 then
        return ''::tsvector;
    end if;
    keys := string_to_array(
        prefix || array_to_string(tsvector_to_array(vector), E'\x01' || prefix), E'\x01');
    if cardinality(keys) = length(vector) then
        return array_to_tsvector(keys);
    end if;
    return array_to_tsvector(array(
        select prefix || lexeme from unnest(tsvector_to_array(vector)) lexeme));
end $$;

-- What a query needs of the keys: its indexable part (querytree: negations are
-- dropped), each lexeme keyed by the workspace, and every phrase operator (<->,
-- <N>) made an AND. It matches every document the query matches (and, when the
-- query had a phrase or a negation, some more: the row's vector decides those).
-- Null for a query with nothing indexable ('T'), which matches nothing.
create function search_keys_query(workspace_id uuid, query tsquery) returns tsquery
    immutable strict parallel safe language plpgsql as $$
begin
    return (
        select string_agg(
                   case when t[1] is not null  -- a lexeme; a prefix search stays one
                        then '''' || search_key_prefix(workspace_id) || substr(t[1], 2)
                             || case when t[2] like '%*%' then ':*' else '' end
                        when t[3] like '<%' then '&'
                        else t[3] end, ' ')
        from regexp_matches(querytree(query),
                            '(''(?:[^'']|'''')*'')(:[*A-D]+)?|(<(?:-|[0-9]+)>|[&|()])',
                            'g') t)::tsquery;
end $$;

-- Both are PL/pgSQL: a SQL function whose body has a subquery is not inlined, and is
-- planned again for every statement that calls it (0.1 ms a search); PL/pgSQL keeps
-- its plan for the connection's life.

create index documents_search_keys on documents
    using gin (search_keys(workspace_id, search_vector)) where deleted_at is null;

drop index documents_search;
