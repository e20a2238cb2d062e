"""Connections kept at hand by ``Database`` (past asyncpg's pool round, when clean).

A connection goes back to the pool's keeping only after statements that all
ended well, outside a transaction; anything else goes through asyncpg's pool,
which resets or replaces it. Nothing a statement leaves behind reaches the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from docgraph.db import database as database_module
from docgraph.db.database import Database
from docgraph.errors import Conflict, Unavailable


@pytest.fixture
async def own_db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.connect(database_url, min_size=1, max_size=2)
    try:
        yield database
    finally:
        await asyncio.wait_for(database.close(), 30)  # kept connections do not hold it up


async def backend(db: Database) -> int:
    return int(await db.fetchval("select pg_backend_pid()"))


async def test_a_clean_connection_serves_the_next_statement_and_counts_as_idle(own_db):
    first = await backend(own_db)
    assert [await backend(own_db) for _ in range(5)] == [first] * 5
    stats = own_db.stats()
    assert stats.in_use == 0 and stats.size >= 1


async def test_a_failed_statement_hands_its_connection_back_through_asyncpg(own_db):
    with pytest.raises(asyncpg.DivisionByZeroError):
        await own_db.fetchval("select 1 / 0")
    assert await own_db.fetchval("select 41 + 1") == 42
    assert own_db.stats().in_use == 0


async def test_a_transaction_left_open_is_rolled_back_before_anyone_else_uses_it(own_db):
    async with own_db.connection() as conn:
        await conn.execute("begin")
        await conn.execute("set local application_name = 'left open'")
        assert await conn.fetchval("select current_setting('application_name')") == \
            "left open"
    # Whichever connection comes next: no transaction, nothing of the one left open.
    for _ in range(3):
        async with own_db.connection() as conn:
            assert not conn.raw.is_in_transaction()
            assert await conn.fetchval("select current_setting('application_name')") == \
                "docgraph"


async def test_an_error_inside_a_transaction_block_leaves_no_transaction(own_db):
    with pytest.raises(Conflict):
        async with own_db.transaction() as conn:
            await conn.execute("set local application_name = 'rolled back'")
            raise Conflict("the caller changed its mind")
    async with own_db.connection() as conn:
        assert not conn.raw.is_in_transaction()
        assert await conn.fetchval("select current_setting('application_name')") == "docgraph"


async def test_a_kept_connection_the_server_closed_is_replaced(own_db, db):
    pid = await backend(own_db)
    kept = [conn for conn, _ in own_db._kept[own_db.pool]]
    assert len(kept) == 1
    assert await db.fetchval("select pg_terminate_backend($1)", pid)
    for _ in range(400):  # until the client has read the end of its socket
        if database_module._closed(kept[0]):
            break
        await asyncio.sleep(0.05)
    assert database_module._closed(kept[0])
    other = await backend(own_db)
    assert other != pid
    assert own_db.stats().in_use == 0


async def test_a_connection_lost_mid_statement_is_unavailable_and_not_kept(own_db, db):
    pid = await backend(own_db)
    statement = asyncio.ensure_future(own_db.fetchval("select pg_sleep(30)"))
    for _ in range(100):
        if await db.fetchval("select count(*) from pg_stat_activity where pid = $1 "
                             "and state = 'active'", pid):
            break
        await asyncio.sleep(0.05)
    assert await db.fetchval("select pg_terminate_backend($1)", pid)
    with pytest.raises(Unavailable):
        await statement
    assert await backend(own_db) != pid


async def test_kept_connections_unused_for_a_while_go_back_to_asyncpgs_pool(
        own_db, monkeypatch):
    monkeypatch.setattr(database_module, "KEPT_IDLE_SECONDS", 0.2)
    await backend(own_db)
    assert own_db.pool.get_idle_size() == 0  # kept here, so checked out from asyncpg
    for _ in range(100):
        await asyncio.sleep(0.05)
        if own_db.pool.get_idle_size() == own_db.pool.get_size():
            break
    assert own_db.pool.get_idle_size() == own_db.pool.get_size() >= 1
    assert own_db.stats().in_use == 0
    assert await own_db.fetchval("select 1") == 1


async def test_every_so_often_a_release_goes_through_asyncpgs_pool(own_db, monkeypatch):
    monkeypatch.setattr(database_module, "FULL_RELEASE_EVERY", 3)
    idle = []
    for _ in range(6):
        await own_db.fetchval("select 1")
        idle.append(own_db.pool.get_idle_size())
    assert idle.count(1) == 2 and idle.count(0) == 4


async def test_many_statements_at_once_never_use_more_connections_than_the_pool_has(own_db):
    pids = await asyncio.gather(*(backend(own_db) for _ in range(40)))
    assert len(set(pids)) <= 2
    assert own_db.stats().in_use == 0 and own_db.stats().size <= 2
