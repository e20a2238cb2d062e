"""Full-text search over a workspace's documents (migration 0014's vectors and indexes)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from docgraph.db.database import Database
from docgraph.db.documents import (
    DOCUMENT_COLUMNS,
    FILTER_PARAMETERS,
    DocumentFilters,
    document_filter,
)

# Where a match counts most: text (D), description (C), tags and folder (B), name (A).
RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
# The rank of a name that only resembles the query (trigrams), by how close it is.
NAME_LIKENESS_WEIGHT = 0.5

SNIPPET_LEAD = 100  # characters of the text read before the first match
# The lexemes of querytree's text ('sign' & 'acm'), as a SQL literal.
LEXEME_PATTERN = "'''([^'']+)'''"

_n = 5 + FILTER_PARAMETERS  # the parameters after the filters'
AFTER_RANK, AFTER_TIME, AFTER_ID = f"${_n}", f"${_n + 1}", f"${_n + 2}"
OFFSET, ROWS, WITH_TOTAL = f"${_n + 3}", f"${_n + 4}", f"${_n + 5}"
WITH_SNIPPET, SNIPPET_CHARS, SNIPPET_OPTIONS = f"${_n + 6}", f"${_n + 7}", f"${_n + 8}"
FILTERED = f"${_n + 9}"  # whether any filter is given
_FILTERS = document_filter(5, any_given=FILTERED)

# $1 the workspace, $2 the query (websearch_to_tsquery's syntax), $3 the words a
# name must each resemble (trigrams), longest first (null: none), $4 the words
# excluded from such names (null: none), then the filters, the cursor (rank,
# time, id), the offset and the rows to read (the page's size plus one), whether
# to count the total, whether (and over how many characters of text, with which
# options) to make snippets, and whether any filter is given. Both statements take
# them all.
_QUERY = """
with parsed as (
    select w.text_search_config::regconfig as config,
           websearch_to_tsquery(w.text_search_config::regconfig, $2) as tsq
    from workspaces w where w.id = $1
), q as (
    select p.config,
           case when querytree(p.tsq) = 'T' then ''::tsquery else p.tsq end as tsq,
           search_keys_query($1, p.tsq) as keys,
           -- Without a phrase or a negation, what the keys match is what the query does.
           p.tsq::text !~ '[<!]' as keys_exact,
           case when $4::text is not null
                then websearch_to_tsquery(p.config, $4::text) end as excluded,
           $3::text[] as name_words
    from parsed p
)"""

# The documents whose vectors match, ranked: found by their keys in the workspace
# (migration 0016), and checked on their own vector when the keys are not enough
# (phrases, negations). A query with no word to look for (only exclusions, only stop
# words) has no keys and matches nothing (querytree 'T' would scan every document).
_FOUND = f"""
select d.id, d.created_at, ts_rank('{RANK_WEIGHTS}', d.search_vector, q.tsq, 1) as rank
from q, documents d
where {_FILTERS}
  and search_keys(d.workspace_id, d.search_vector) @@ q.keys
  and (q.keys_exact or d.search_vector @@ q.tsq)"""  # noqa: S608

# Names that resemble every word ("did you mean"), by their trigrams: asked only
# when the vectors found nothing, so a misspelt or partial name is still found and
# a query whose words are found costs nothing more (a common word's trigrams would
# have every name rechecked).
_RESEMBLING = f"""
select d.id, d.created_at,
       (word_similarity(array_to_string(q.name_words, ' '), d.name)
        * {NAME_LIKENESS_WEIGHT}::real)::real as rank
from q, documents d
where {_FILTERS}
  and (q.name_words)[1] <% d.name
  and not exists (select 1 from unnest(q.name_words) word where not word <% d.name)
  and (q.excluded is null or not d.search_vector @@ q.excluded)"""  # noqa: S608


# The matches are ranked once (materialised); the page joins back to its documents,
# and only the page's rows (not the one read past it) get a snippet: cut from the
# name, the description and a window of the text that starts a little before the
# first place one of the query's lexemes appears in it (a stem is most often the
# start of the word it came from), so that a word deep in a long text is shown
# without ts_headline reading all of it.
_PAGE = f"""(select count(*) from matches where {WITH_TOTAL}) as total_count,
       {AFTER_RANK}::real is not null and exists (
           select 1 from matches m
           where (m.rank, m.created_at, m.id)
                 >= ({AFTER_RANK}::real, {AFTER_TIME}::timestamptz, {AFTER_ID}::uuid))
           as has_preceding,
       p.*
from (select 1) one
left join lateral (
    select m.rank, {DOCUMENT_COLUMNS},
           case when {WITH_SNIPPET} and m.position < {ROWS} then ts_headline(
               q.config, concat_ws(E'\\n', d.name, d.description,
                                   substr(t.content, greatest(1, hit.at - {SNIPPET_LEAD}),
                                          {SNIPPET_CHARS})),
               q.tsq, {SNIPPET_OPTIONS}) end as snippet
    from (select m.*, row_number() over () as position  -- in the page's order
          from (select * from matches m
                where {AFTER_RANK}::real is null
                   or (m.rank, m.created_at, m.id)
                      < ({AFTER_RANK}::real, {AFTER_TIME}::timestamptz, {AFTER_ID}::uuid)
                order by m.rank desc, m.created_at desc, m.id desc
                offset {OFFSET} limit {ROWS}) m) m
    cross join q
    join documents d on d.workspace_id = $1 and d.id = m.id
    left join document_texts t
           on {WITH_SNIPPET} and m.position < {ROWS}
              and t.workspace_id = $1 and t.document_id = m.id
    left join lateral (
        select coalesce(min(nullif(strpos(lower(t.content), lexeme[1]), 0)), 1) as at
        from regexp_matches(querytree(q.tsq), {LEXEME_PATTERN}, 'g') lexeme
    ) hit on t.content is not null
) p on true
order by p.rank desc, p.created_at desc, p.id desc
"""  # noqa: S608 - composed of constants; values are $n parameters


def _page_of(matches: str) -> str:
    """The statement of one page of ``matches`` (id, created_at, rank), best first,
    with ``matched``: whether anything matched at all (on any page)."""
    return f"""{_QUERY}, matches as materialized ({matches}
)
select exists (select 1 from matches) as matched,
       {_PAGE}"""  # noqa: S608 - composed of constants; values are $n parameters


# Two statements rather than one with both kinds of match: each is planned for what
# it does, and the trigram part is planned (and run) only when asked.
SEARCH_DOCUMENTS = _page_of(_FOUND)
SEARCH_RESEMBLING_NAMES = _page_of(_RESEMBLING)

# Searches run with generic plans (Database.generic_plans), made once per connection
# for any query. Left to choose, PostgreSQL plans every search again (it never
# expects its generic plan to win): 0.4 ms each time, more than running most
# searches.


async def search_documents(
    db: Database, workspace_id: uuid.UUID, *, query: str, name_like: list[str] | None,
    excluded: str | None, filters: DocumentFilters,
    after: tuple[float, datetime, uuid.UUID] | None, offset: int, limit: int,
    with_total: bool, with_snippet: bool, snippet_chars: int, snippet_options: str,
) -> list[Mapping[str, Any]]:
    """Up to ``limit + 1`` rows, best first: each with ``rank``, ``snippet`` (null
    unless ``with_snippet``), ``total_count`` (null unless ``with_total``) and
    ``has_preceding``. An empty page is one row whose document columns are null."""
    rank, time, ident = after if after is not None else (None, None, None)
    arguments = (workspace_id, query, name_like, excluded, *filters.arguments(), rank, time,
                 ident, offset, limit + 1, with_total, with_snippet, snippet_chars,
                 snippet_options, filters.given())
    async with db.generic_plans() as conn:
        rows = await conn.fetch(SEARCH_DOCUMENTS, *arguments)
        if name_like and not rows[0]["matched"]:
            rows = await conn.fetch(SEARCH_RESEMBLING_NAMES, *arguments)
    return rows
