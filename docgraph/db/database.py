"""The connection pool, and the one place database failures are translated.

Every statement the service sends goes through :class:`Database`, which

* waits a bounded time for a pooled connection, first come first served,
* keeps the connections it gives back in a clean state at hand, so that most
  statements skip asyncpg's pool round (see ``Database``),
* maps asyncpg exceptions by class to :mod:`docgraph.errors` (a lost or
  overloaded database becomes 503 ``unavailable``, never a hang or a 500),
* counts statements per request, and the time they take (``statement_counter``):
  tests and the benchmark read the count to prove a query's cost does not grow
  with its lists, and the metrics (when on) record both.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import orjson

from docgraph.errors import Unavailable

log = logging.getLogger("docgraph.db")

T = TypeVar("T")


class StatementTally:
    """The statements sent within a block (a request), and the seconds they took.

    ``seconds`` adds up each statement's time from sending to its answer, so
    statements of one request that run at once (dataloaders of one level) may
    add up to more than the request's own time. BEGIN and COMMIT count as
    statements, untimed.
    """

    __slots__ = ("count", "seconds")

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    async def time(self, statement: Awaitable[T]) -> T:
        """Await ``statement``, counted and timed."""
        self.count += 1
        started = time.perf_counter()
        try:
            return await statement
        finally:
            self.seconds += time.perf_counter() - started


# Set per request (``resolvers.context.counting_statements``); None: nothing counts.
statement_counter: contextvars.ContextVar[StatementTally | None] = contextvars.ContextVar(
    "statement_counter", default=None
)

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # connection lost, refused or rejected
    asyncpg.InterfaceError,  # connection closed under us, pool closing
    # Operator intervention (class 57): AdminShutdown, CrashShutdown,
    # CannotConnectNow (starting up or recovering), QueryCanceled (statement_timeout).
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,  # includes TooManyConnections
    ConnectionError,
    OSError,
    TimeoutError,
)


# The settings of the connections of Database.generic_plans (the searches'). Their
# work_mem keeps a search's bitmap of matches exact up to about a million documents
# (a bitmap over 66,000 pages, 200,000 matches, needs 5 MB): a lossy page is
# rechecked row by row with the index's expression, which for the search keys is
# 25 µs a row (a query matching every one of 200,000 documents took 2.7 s at 4 MB,
# 0.4 s with an exact bitmap). It bounds what a search may use, not what it takes.
GENERIC_PLAN_SETTINGS = {"plan_cache_mode": "force_generic_plan", "work_mem": "32MB"}


def _count(n: int) -> None:
    tally = statement_counter.get()
    if tally is not None:
        tally.count += n


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("jsonb", "json"):
        await conn.set_type_codec(
            type_name,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on release (``RESET ALL``, ``UNLISTEN *``, …).

    It costs a round trip and four statements every time a connection goes
    back to the pool, and there is nothing to reset: no docgraph code changes
    session state on a pooled connection (no SET, no LISTEN; the sweeper's
    advisory lock is released by the block that takes it). An open transaction
    is still rolled back by asyncpg before this runs.
    """


class Connection:
    """A pooled connection whose statements are counted and timed (``statement_counter``)."""

    __slots__ = ("raw",)

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        tally = statement_counter.get()
        if tally is None:
            return await self.raw.fetch(sql, *args)
        return await tally.time(self.raw.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        tally = statement_counter.get()
        if tally is None:
            return await self.raw.fetchrow(sql, *args)
        return await tally.time(self.raw.fetchrow(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        tally = statement_counter.get()
        if tally is None:
            return await self.raw.fetchval(sql, *args)
        return await tally.time(self.raw.fetchval(sql, *args))

    async def execute(self, sql: str, *args: Any) -> str:
        tally = statement_counter.get()
        if tally is None:
            return await self.raw.execute(sql, *args)
        return await tally.time(self.raw.execute(sql, *args))

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        tally = statement_counter.get()
        if tally is None:
            await self.raw.executemany(sql, args)
        else:
            await tally.time(self.raw.executemany(sql, args))


@dataclasses.dataclass(frozen=True, slots=True)
class PoolStats:
    """The pools at one moment: connections open (both pools), in use, the most in
    use at once, and the callers waiting in line for one."""

    size: int
    in_use: int
    max_size: int
    waiting: int


# A connection kept at hand this long unused goes back to asyncpg's pool (which closes
# it after max_inactive_connection_lifetime more).
KEPT_IDLE_SECONDS = 60.0
# Every this many releases one goes through asyncpg's pool all the same, so that its
# checks still see each connection (max_queries: a connection is replaced after 50,000).
FULL_RELEASE_EVERY = 1_000


class Database:
    """A bounded asyncpg pool with error translation and statement counting.

    asyncpg's ``Pool.acquire`` and ``release`` cost some 12 µs of CPU a statement
    (a proxy, a future, an inactivity timer rearmed, and a task for each release, from
    ``asyncio.shield``), as much as the statement itself costs the client: a tenth of
    a page request. So a connection given back after statements that all ended well,
    outside a transaction, is kept at hand (``_kept``, last in first out) and handed
    out next without that round. Any other (a statement failed or was cancelled, a
    transaction was left open, the connection closed), one in every
    ``FULL_RELEASE_EVERY``, and any kept ``KEPT_IDLE_SECONDS`` unused go back through
    asyncpg's pool, which resets, replaces or closes them as before.
    """

    def __init__(self, pool: asyncpg.Pool, generic_pool: asyncpg.Pool, *,
                 acquire_timeout: float = 2.0, url: str | None = None) -> None:
        self.pool = pool
        # Connections set to plan every statement generically (generic_plans).
        self.generic_pool = generic_pool
        self.acquire_timeout = acquire_timeout
        # Where the pool connects: a connection of its own (db.listen) opens there too.
        self.url = url
        # Callers in line for a connection (counted on the slow path only).
        self._waiting = 0
        # One slot per pooled connection, handed out in arrival order. asyncpg's pool
        # queue is not fair: a waiter woken for a released connection loses it to any
        # newcomer that asks first, and goes back to the end of the line; under load a
        # few requests then wait many times longer than the rest. Both pools share the
        # slots: at most max_size connections are in use at once, whichever pool.
        self._slots = asyncio.Semaphore(pool.get_max_size())
        # Connections at hand, per pool, with the time each was given back.
        self._kept: dict[asyncpg.Pool, list[tuple[asyncpg.Connection, float]]] = {
            pool: [], generic_pool: []}
        self._releases = 0
        self._closing = False
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle_task: asyncio.Future[None] | None = None

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 2, max_size: int = 10,
                      acquire_timeout: float = 2.0, statement_timeout_ms: int = 2000,
                      connect_timeout: float = 5.0) -> Database:
        # No JIT: it pays off for long analytic queries, never for docgraph's. Above
        # jit_above_cost (an estimate, which grows with the tables) each execution
        # compiled its expressions first: 50 ms more for a 1 ms search at 2,000,000
        # documents.
        server_settings = {"application_name": "docgraph", "jit": "off"}
        # The server cancels a slow statement itself (statement_timeout); a server
        # that does not answer at all (frozen, network gone) cannot, so the client
        # gives up a second later (command_timeout also bounds BEGIN and COMMIT).
        command_timeout = None
        if statement_timeout_ms:
            server_settings["statement_timeout"] = str(statement_timeout_ms)
            command_timeout = statement_timeout_ms / 1000 + 1.0
        options: dict[str, Any] = dict(
            init=_init_connection, timeout=connect_timeout, command_timeout=command_timeout,
            max_inactive_connection_lifetime=300, reset=_keep_session)
        pool = generic_pool = None
        try:
            pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size,
                                             server_settings=server_settings, **options)
            # Opened as searches need them, closed after five idle minutes.
            generic_pool = await asyncpg.create_pool(
                url, min_size=0, max_size=max_size,
                server_settings=server_settings | GENERIC_PLAN_SETTINGS, **options)
        except UNAVAILABLE_ERRORS as exc:
            if pool is not None:
                await pool.close()
            raise Unavailable(f"database unreachable: {exc.__class__.__name__}") from exc
        return cls(pool, generic_pool, acquire_timeout=acquire_timeout, url=url)

    async def close(self) -> None:
        self._closing = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        await self._give_back(lambda since: True)
        await asyncio.gather(self.pool.close(), self.generic_pool.close())

    def stats(self) -> PoolStats:
        """The pools now (what the metrics sample)."""
        pools = (self.pool, self.generic_pool)
        size = sum(p.get_size() for p in pools)
        idle = sum(p.get_idle_size() for p in pools) + sum(map(len, self._kept.values()))
        return PoolStats(size=size, in_use=size - idle,
                         max_size=self.pool.get_max_size(), waiting=self._waiting)

    async def _take_slot(self) -> None:
        slots = self._slots
        if not slots.locked():
            await slots.acquire()  # free: returns at once
            return
        self._waiting += 1
        try:
            async with asyncio.timeout(self.acquire_timeout):
                await slots.acquire()
        except TimeoutError as exc:
            raise Unavailable("the database is busy or unreachable") from exc
        finally:
            self._waiting -= 1

    async def _acquire(self, pool: asyncpg.Pool | None = None) -> asyncpg.Connection:
        """A connection of ``pool`` (default: ``self.pool``), in turn (see ``_slots``);
        release it with ``_release``."""
        await self._take_slot()
        pool = pool or self.pool
        try:
            kept = self._kept[pool]
            while kept:
                conn = kept.pop()[0]
                if not _closed(conn):
                    return conn
                await pool.release(conn)  # a no-op if asyncpg took it back already
            # Holding a slot, a connection is free: kept here, in the pool's queue, or a
            # place to open one within the connect timeout. No timeout here: with
            # one, asyncpg would run each acquisition in a task of its own.
            return await pool.acquire()
        except BaseException as exc:
            self._slots.release()
            if isinstance(exc, UNAVAILABLE_ERRORS):
                raise Unavailable("the database is busy or unreachable") from exc
            raise

    async def _release(self, conn: asyncpg.Connection, pool: asyncpg.Pool | None = None,
                       *, clean: bool = False) -> None:
        """Give ``conn`` back; ``clean``: every statement on it ended well."""
        pool = pool or self.pool
        try:
            self._releases += 1
            if (clean and not self._closing and self._releases % FULL_RELEASE_EVERY
                    and not _closed(conn) and not conn.is_in_transaction()):
                self._keep(pool, conn)
                return
            await pool.release(conn)
        except UNAVAILABLE_ERRORS:  # the connection is gone; the pool replaces it
            log.debug("releasing a broken connection", exc_info=True)
        finally:
            self._slots.release()

    def _keep(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
        self._kept[pool].append((conn, time.monotonic()))
        if self._idle_timer is None:
            self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        self._idle_timer = asyncio.get_running_loop().call_later(
            KEPT_IDLE_SECONDS, self._on_idle_timer)

    def _on_idle_timer(self) -> None:
        self._idle_timer = None
        limit = time.monotonic() - KEPT_IDLE_SECONDS
        # Held until done: the event loop keeps only a weak reference to a task.
        self._idle_task = asyncio.ensure_future(
            self._give_back(lambda since: since <= limit))
        self._idle_task.add_done_callback(self._after_idle_give_back)

    def _after_idle_give_back(self, task: asyncio.Future[None]) -> None:
        self._idle_task = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("giving idle connections back failed", exc_info=task.exception())
        if not self._closing and any(self._kept.values()) and self._idle_timer is None:
            self._arm_idle_timer()

    async def _give_back(self, due: Callable[[float], bool]) -> None:
        """Give the kept connections ``due`` (by the time they were kept) back to
        asyncpg's pool. The oldest are first in each list."""
        for pool, kept in self._kept.items():
            going = [conn for conn, since in kept if due(since)]
            kept[:] = [(conn, since) for conn, since in kept if not due(since)]
            for conn in going:
                try:
                    await pool.release(conn)
                except UNAVAILABLE_ERRORS:
                    log.debug("releasing a broken connection", exc_info=True)

    def connection(self) -> AbstractAsyncContextManager[Connection]:
        """A pooled connection; database failures inside become ``Unavailable``.

        Callers get connections in the order they asked (see ``_slots``), and
        wait at most ``acquire_timeout`` in line.
        """
        return self._leased(self.pool)

    def generic_plans(self) -> AbstractAsyncContextManager[Connection]:
        """A connection whose statements run with generic plans: planned once per
        connection, whatever their parameters.

        For a statement PostgreSQL would otherwise plan again at every execution,
        when planning costs more than a generic plan loses. The connection comes from
        a pool of its own, opened with ``GENERIC_PLAN_SETTINGS``, so nothing is set or
        reset per use (SET LOCAL in a transaction cost two round trips a search); it
        waits in the same line as ``connection``'s.
        """
        return self._leased(self.generic_pool)

    @asynccontextmanager
    async def _leased(self, pool: asyncpg.Pool) -> AsyncIterator[Connection]:
        conn = await self._acquire(pool)
        clean = False
        try:
            yield Connection(conn)
            clean = True
        except UNAVAILABLE_ERRORS as exc:
            raise Unavailable("the database is busy or unreachable") from exc
        finally:
            await self._release(conn, pool, clean=clean)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection inside a transaction (counted as BEGIN and COMMIT)."""
        async with self.connection() as conn:
            _count(2)
            async with conn.raw.transaction():
                yield conn

    # One statement on a connection of its own: what ``connection`` does, without
    # the cost of a context manager on every statement.
    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._one("fetch", sql, args)  # type: ignore[no-any-return]

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self._one("fetchrow", sql, args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._one("fetchval", sql, args)

    async def execute(self, sql: str, *args: Any) -> str:
        return await self._one("execute", sql, args)  # type: ignore[no-any-return]

    async def _one(self, method: str, sql: str, args: tuple[Any, ...]) -> Any:
        conn = await self._acquire()
        clean = False
        try:
            tally = statement_counter.get()
            if tally is None:
                result = await getattr(conn, method)(sql, *args)
            else:
                result = await tally.time(getattr(conn, method)(sql, *args))
            clean = True
            return result
        except UNAVAILABLE_ERRORS as exc:
            raise Unavailable("the database is busy or unreachable") from exc
        finally:
            await self._release(conn, clean=clean)


def _closed(conn: asyncpg.Connection) -> bool:
    """Whether a pooled connection is closed. (When one closes, asyncpg takes it back
    into its pool at once, and the proxy handed out is left without a connection.)"""
    return getattr(conn, "_con", None) is None or conn.is_closed()


# Either runs statements: the pool (one connection per statement) or a held connection.
Executor = Database | Connection


async def ping(db: Database, within: float = 2.0) -> bool:
    """Whether the database answers ``select 1`` within ``within`` seconds."""
    try:
        return await asyncio.wait_for(db.fetchval("select 1"), within) == 1
    except (Unavailable, TimeoutError):
        return False
