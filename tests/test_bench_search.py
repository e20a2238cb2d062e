"""The benchmark's search scenario works: its seeding (the dataset at a tiny scale, then
every document's text as if extracted), its queries, its request and its floor."""

from __future__ import annotations

import json

import asyncpg
import httpx

from bench.scenarios import SCENARIOS, search_floor
from bench.search import seed_texts, write_queries
from bench.seed import seed
from docgraph.db.database import Database
from tests.instances import fresh_database, serving


async def test_search_scenario_seeds_and_answers(cluster, tmp_root):
    url = await fresh_database(cluster, "bench_search")
    db = await Database.connect(url, statement_timeout_ms=0)
    try:
        dataset = await seed(db, scale=0.001)
        assert await seed_texts(db, dataset.workspace_id) == dataset.documents == 200
        stats = await db.fetchrow(
            "select count(*) filter (where text_status = 'done') as done,"
            " min(text_length) as shortest, max(text_length) as longest,"
            " count(*) filter (where search_vector @@ 'refer'::tsquery) as indexed"
            " from documents where workspace_id = $1", dataset.workspace_id)
        assert stats["done"] == stats["indexed"] == 200
        assert 1000 < stats["shortest"] <= stats["longest"] < 6000  # a few hundred words
        # The index rebuilt after the load is the migration's.
        definition = await db.fetchval("select pg_get_indexdef('documents_search_keys'::regclass)")
        assert "gin (search_keys(workspace_id, search_vector))" in definition
    finally:
        await db.close()

    path = tmp_root / "search-queries.txt"
    queries = write_queries(path, dataset.documents)
    lines = path.read_text().splitlines()
    assert len(lines) == len(queries) == 2000
    assert write_queries(tmp_root / "again.txt", dataset.documents) == queries  # deterministic
    scenario = next(s for s in SCENARIOS if s.name == "graphql_search")
    assert scenario.body is not None
    found = 0
    with serving(tmp_root, url) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            for line in lines[:40]:
                r = await client.post(scenario.path, content=scenario.body.replace("__ID__", line),
                                      headers={**scenario.headers,
                                               "Authorization": f"Bearer {dataset.key}"})
                assert r.status_code == 200, r.text
                body = r.json()
                assert "errors" not in body, (line, body)
                result = body["data"]["searchDocuments"]
                if json.loads(f'"{line}"').startswith("reference "):
                    assert result["totalCount"] == 1, line
                found += result["totalCount"] > 0
    assert found >= 10  # references at least; words are rare in 200 documents
    conn = await asyncpg.connect(url)
    try:
        for line in lines[:5]:
            await search_floor(conn, dataset.workspace_id, line)
    finally:
        await conn.close()
