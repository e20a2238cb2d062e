"""The search index keys each lexeme by its workspace (migration 0016): a search reads
its words' postings in its workspace and nothing of the workspace's other documents;
what it finds is exactly what the documents' own vectors match, phrases and negations
included; and two workspaces whose keys share a prefix still never see each other."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from docgraph.db import search as search_db
from docgraph.db.database import Database
from docgraph.db.documents import DocumentFilters
from docgraph.resolvers.search import SNIPPET_OPTIONS, SNIPPET_SCAN_CHARS
from tests.instances import fresh_database

# Two workspace ids whose digests start alike: the index keys both workspaces' words
# the same way (found by drawing random ids; the test checks that they collide).
SAME_PREFIX = (uuid.UUID("970d6e5e-8281-46b1-81e2-41926ebd0389"),
               uuid.UUID("032edfc8-702c-4160-af34-b6ddd3854846"))

INSERT_WORKSPACE = "insert into workspaces (id, name) values ($1, $2)"
INSERT_DOCUMENT = """
insert into documents (workspace_id, id, name, description, mime_type, storage_path)
values ($1, $2, $3, $4, 'text/plain', $5)
"""
# What the query matches, read from every row's own vector (no index can answer it).
MATCHED_BY_VECTORS = """
select d.id from documents d, workspaces w
where d.workspace_id = $1 and w.id = $1 and d.deleted_at is null
  and querytree(websearch_to_tsquery(w.text_search_config::regconfig, $2)) <> 'T'
  and d.search_vector @@ websearch_to_tsquery(w.text_search_config::regconfig, $2)
"""
MANY_DOCUMENTS = """
insert into documents (workspace_id, id, name, description, mime_type, storage_path)
select $1, gen_random_uuid(), 'filler ' || n, 'Nothing signed, page ' || n, 'text/plain',
       'test/filler/' || n
from generate_series(1, $2::int) n
"""
KEYS_QUERY = """
select search_keys_query($1, websearch_to_tsquery('english', $2))::text
"""


@pytest.fixture
async def db(cluster) -> AsyncIterator[Database]:
    database = await Database.connect(await fresh_database(cluster, "search_keys"),
                                      min_size=1, max_size=2)
    try:
        yield database
    finally:
        await database.close()


async def workspace_with(db: Database, workspace_id: uuid.UUID,
                         descriptions: dict[str, str]) -> dict[str, uuid.UUID]:
    """A workspace of documents named as ``descriptions``'s keys, each saying its value."""
    await db.execute(INSERT_WORKSPACE, workspace_id, f"Workspace {workspace_id}")
    ids = {}
    for name, description in descriptions.items():
        ids[name] = uuid.uuid4()
        await db.execute(INSERT_DOCUMENT, workspace_id, ids[name], name, description,
                         f"test/{ids[name]}")
    return ids


async def found(db: Database, workspace_id: uuid.UUID, query: str) -> set[uuid.UUID]:
    rows = await search_db.search_documents(
        db, workspace_id, query=query, name_like=None, excluded=None,
        filters=DocumentFilters(), after=None, offset=0, limit=100, with_total=True,
        with_snippet=False, snippet_chars=SNIPPET_SCAN_CHARS, snippet_options=SNIPPET_OPTIONS)
    ids = {row["id"] for row in rows if row["id"] is not None}
    assert rows[0]["total_count"] == len(ids)
    return ids


DESCRIPTIONS = {
    "a.txt": "The lease was signed with Brontosaurus Holdings in March.",
    "b.txt": "Brontosaurus Holdings signed, with reservations, a draft lease.",
    "c.txt": "Minutes of the meeting: the lease, the draft and nothing signed.",
    "d.txt": "O'Neil's passport expires in March; renewal pending.",
    "e.txt": "Holdings of the trust: signed statements, March and April.",
    "f.txt": "Saved as C:\\Leases\\draft-v2.docx; mail o'neil@example.com or Müller-Lüdenscheidt "
             "GmbH about https://example.com/leases?id=7 🙂 café.",
}
QUERIES = [
    "lease", "brontosaurus", "signed lease", "lease -draft", '"signed with brontosaurus"',
    '"brontosaurus holdings"', 'lease -"signed with"', '"holdings signed" or passport',
    'march -"brontosaurus holdings"', 'lease -"holdings signed"',
    "passport or minutes -draft", "o'neil", "o'neil's",
    '"lease signed"', "-lease", "the", '"the"', "march april", '"march and april"',
    "renewal or (draft", "signed -signed", "",
    "draft-v2.docx", "o'neil@example.com", '"müller-lüdenscheidt gmbh"', "lüdenscheidt",
    "https://example.com/leases?id=7", "C:\\Leases", "🙂", "cafe", "café -draft",
    "'quoted' \\ back\\slash", '"""', "a" * 3000,
]


@pytest.mark.parametrize("query", QUERIES)
async def test_a_search_finds_what_the_vectors_match_and_nothing_else(db, query):
    workspace = uuid.uuid4()
    await workspace_with(db, workspace, DESCRIPTIONS)
    expected = {row["id"] for row in await db.fetch(MATCHED_BY_VECTORS, workspace, query)}
    assert await found(db, workspace, query) == expected


async def test_phrases_and_negations_are_decided_by_the_documents_vectors(db):
    workspace = uuid.uuid4()
    ids = await workspace_with(db, workspace, {name: text for name, text in DESCRIPTIONS.items()
                                               if name != "f.txt"})
    # Both leases have the two words; only a.txt has them side by side.
    assert await found(db, workspace, '"signed with brontosaurus"') == {ids["a.txt"]}
    # A negated phrase excludes only where the phrase is, not where its words are (a.txt
    # has both words, apart).
    assert await found(db, workspace, 'lease -"holdings signed"') == {ids["a.txt"],
                                                                      ids["c.txt"]}
    assert await found(db, workspace, "lease -draft") == {ids["a.txt"]}
    assert await found(db, workspace, "o'neil") == {ids["d.txt"]}


@pytest.mark.parametrize(("query", "expected"), [
    ("lease", "'{p}leas'"),
    ("signed lease", "'{p}sign' & '{p}leas'"),
    ('"signed with brontosaurus"', "'{p}sign' & '{p}brontosaurus'"),
    ("lease or minutes", "'{p}leas' | '{p}minut'"),
    ("lease -draft", "'{p}leas'"),  # the row's vector decides the exclusion
    ("o'neil", "'{p}o' & '{p}neil'"),
    ("-lease", None),  # nothing to look for: nothing is found
    ("the", None),
])
async def test_a_query_is_keyed_by_its_workspace(db, query, expected):
    workspace = uuid.uuid4()
    prefix = hashlib.md5(str(workspace).encode()).hexdigest()[:8]  # noqa: S324 - a key
    keys = await db.fetchval(KEYS_QUERY, workspace, query)
    assert keys == (expected.format(p=prefix) if expected is not None else None)


async def test_a_documents_keys_are_its_lexemes_prefixed_by_its_workspace(db):
    workspace = uuid.uuid4()
    prefix = hashlib.md5(str(workspace).encode()).hexdigest()[:8]  # noqa: S324 - a key
    keys = "select tsvector_to_array(search_keys($1, $2::text[]::tsvector))"
    vector = ["acm", "leas", "sign"]
    assert await db.fetchval(keys.replace("$2::text[]::tsvector", "array_to_tsvector($2)"),
                             workspace, vector) == [prefix + lexeme for lexeme in vector]
    # A lexeme with the separator the keys are joined by (the parser makes none) is
    # still one key.
    odd = ["a\x01b", "c"]
    assert await db.fetchval(keys.replace("$2::text[]::tsvector", "array_to_tsvector($2)"),
                             workspace, odd) == [prefix + lexeme for lexeme in odd]
    assert await db.fetchval(keys.replace("$2::text[]::tsvector", "''::tsvector"),
                             workspace) == []


async def test_workspaces_whose_keys_collide_never_find_each_others_documents(db):
    first, second = SAME_PREFIX
    prefixes = {hashlib.md5(str(w).encode()).hexdigest()[:8] for w in SAME_PREFIX}  # noqa: S324
    assert len(prefixes) == 1
    assert await db.fetchval("select search_key_prefix($1) = search_key_prefix($2)",
                             first, second)
    mine = await workspace_with(db, first, {"mine.txt": "Quetzalcoatl lease, signed."})
    theirs = await workspace_with(db, second, {"theirs.txt": "Quetzalcoatl lease, draft."})
    assert await found(db, first, "quetzalcoatl") == {mine["mine.txt"]}
    assert await found(db, second, "quetzalcoatl") == {theirs["theirs.txt"]}
    assert await found(db, first, "draft") == set()
    assert await found(db, second, '"quetzalcoatl lease" -signed') == {theirs["theirs.txt"]}


async def test_the_search_reads_its_words_postings_not_the_workspace(db):
    """The plan (the generic one searches use) looks its words up by their workspace's
    keys, and has no condition on the workspace that the index would have to answer."""
    workspace = uuid.uuid4()
    await workspace_with(db, workspace, DESCRIPTIONS)
    await db.execute(MANY_DOCUMENTS, workspace, 3000)
    await db.execute("analyze documents")
    arguments: list[Any] = [workspace, "signed lease", None, None,
                            *DocumentFilters().arguments(), None, None, None, 0, 11, True,
                            True, SNIPPET_SCAN_CHARS, SNIPPET_OPTIONS, False]
    async with db.connection() as conn, conn.raw.transaction():
        await conn.execute("set local plan_cache_mode = force_generic_plan")
        plan = "\n".join(row[0] for row in await conn.fetch(
            "explain " + search_db.SEARCH_DOCUMENTS, *arguments))
    index_conditions = [line.strip() for line in plan.splitlines()
                        if "Index Cond" in line and "search_keys" in line]
    assert "Bitmap Index Scan on documents_search_keys" in plan, plan
    assert index_conditions, plan
    assert all("workspace_id =" not in line for line in index_conditions), plan


async def test_a_broad_search_keeps_its_bitmap_of_matches_exact(db):
    """A lossy bitmap page is rechecked row by row with the index's expression (the
    search keys, made again for every row): the searches' connections have the
    memory to keep the bitmap exact, where the default would not."""
    workspace = uuid.uuid4()
    await workspace_with(db, workspace, DESCRIPTIONS)
    await db.execute("alter table documents set (fillfactor = 10)")  # a row a page
    await db.execute(MANY_DOCUMENTS, workspace, 6000)
    await db.execute("analyze documents")
    arguments: list[Any] = [workspace, "signed", None, None,
                            *DocumentFilters().arguments(), None, None, None, 0, 11, True,
                            True, SNIPPET_SCAN_CHARS, SNIPPET_OPTIONS, False]

    def heap_blocks(plan: list[Any]) -> str:
        return next(row[0] for row in plan if "Heap Blocks" in row[0])

    explain = "explain (analyze, costs off) " + search_db.SEARCH_DOCUMENTS
    async with db.connection() as conn, conn.raw.transaction():
        await conn.execute("set local plan_cache_mode = force_generic_plan")
        await conn.execute("set local work_mem = '64kB'")
        assert "lossy=" in heap_blocks(await conn.fetch(explain, *arguments))
    async with db.generic_plans() as conn:
        assert await conn.fetchval("show work_mem") == "32MB"
        blocks = heap_blocks(await conn.fetch(explain, *arguments))
        assert "exact=" in blocks and "lossy" not in blocks, blocks
    rows = await search_db.search_documents(
        db, workspace, query="signed", name_like=None, excluded=None,
        filters=DocumentFilters(), after=None, offset=0, limit=10, with_total=True,
        with_snippet=True, snippet_chars=SNIPPET_SCAN_CHARS, snippet_options=SNIPPET_OPTIONS)
    assert rows[0]["total_count"] == 6000 + 4 and len(rows) == 11


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(DocumentFilters)])
def test_any_one_filter_given_turns_the_filters_on(field):
    """Searches test the filters on each row only when one is given (``given``)."""
    assert not DocumentFilters().given()
    value: Any = {"tags": ["nda"], "linked_entity_id": uuid.uuid4(),
                  "created_after": datetime.now(UTC),
                  "created_before": datetime.now(UTC)}.get(field, "x")
    assert DocumentFilters(**{field: value}).given()


async def test_a_filter_applies_to_a_search(db):
    workspace = uuid.uuid4()
    ids = await workspace_with(db, workspace, DESCRIPTIONS)
    await db.execute("update documents set scan_status = 'clean' where id = $1",
                     ids["a.txt"])
    rows = await search_db.search_documents(
        db, workspace, query="lease", name_like=None, excluded=None,
        filters=DocumentFilters(scan_status="clean"), after=None, offset=0, limit=10,
        with_total=True, with_snippet=False, snippet_chars=SNIPPET_SCAN_CHARS,
        snippet_options=SNIPPET_OPTIONS)
    assert [row["id"] for row in rows] == [ids["a.txt"]]
