import asyncio

import asyncpg
import pytest

from docgraph.db.migrate import (
    Migration,
    MigrationError,
    apply_migrations,
    load_migrations,
    migrate,
)

EXPECTED_TABLES = {"workspaces", "api_keys", "entities", "folders", "documents", "links",
                   "uploads", "schema_migrations"}


async def tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


def test_migration_files_are_numbered_in_order():
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


async def test_migrations_apply_to_an_empty_database_and_a_second_run_changes_nothing(
        empty_database_url):
    first = await migrate(empty_database_url)
    assert [m.version for m in first] == [m.version for m in load_migrations()]
    assert await tables(empty_database_url) >= EXPECTED_TABLES
    conn = await asyncpg.connect(empty_database_url)
    try:
        recorded = await conn.fetch("select version, checksum from schema_migrations")
        schema_before = await conn.fetch(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'public' order by 1, 2")
    finally:
        await conn.close()
    assert {r["version"]: r["checksum"] for r in recorded} == {
        m.version: m.checksum for m in load_migrations()}

    assert await migrate(empty_database_url) == []
    conn = await asyncpg.connect(empty_database_url)
    try:
        schema_after = await conn.fetch(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'public' order by 1, 2")
    finally:
        await conn.close()
    assert schema_after == schema_before


async def test_instances_starting_together_apply_each_migration_once(empty_database_url):
    results = await asyncio.gather(*(migrate(empty_database_url) for _ in range(4)))
    applied = [m.version for result in results for m in result]
    assert sorted(applied) == [m.version for m in load_migrations()]


async def test_an_applied_migration_that_changed_stops_start_up(empty_database_url):
    await migrate(empty_database_url)
    edited = [Migration(m.version, m.name, m.sql + "\n-- edited") for m in load_migrations()]
    conn = await asyncpg.connect(empty_database_url)
    try:
        with pytest.raises(MigrationError, match="was changed after it was applied"):
            await apply_migrations(conn, edited)
        # The advisory lock was released: another run can take it at once.
        assert await conn.fetchval("select pg_try_advisory_lock(1)") is True
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(empty_database_url):
    broken = [*load_migrations(), Migration(999, "broken",
                                            "create table half (id int); select 1/0;")]
    conn = await asyncpg.connect(empty_database_url)
    try:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await apply_migrations(conn, broken)
        assert await conn.fetchval("select to_regclass('half')") is None
        assert await conn.fetchval(
            "select count(*) from schema_migrations where version = 999") == 0
    finally:
        await conn.close()
