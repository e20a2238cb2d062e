"""Bounded bodies, statements and connections: 413 and 503, never a hang or a 500."""

import asyncio
import contextlib
import uuid

import asyncpg
import httpx
import pytest

from docgraph.db.database import Database
from docgraph.http.admission import AdmissionMiddleware
from tests.conftest import make_tenant
from tests.gql import assert_graphql_error
from tests.instances import fresh_database, serving, waiting_on_a_lock
from tests.test_http import assert_error
from tests.test_rate_limits import limits

MAX_BODY = 1000
MAX_GRAPHQL_BODY = 2048  # /graphql has a limit of its own


@pytest.fixture(scope="module")
async def limits_url(cluster):
    return await fresh_database(cluster, "limits")


@pytest.fixture(scope="module")
async def limits_tenant(limits_url):
    database = await Database.connect(limits_url, min_size=1, max_size=2)
    try:
        return await make_tenant(database)
    finally:
        await database.close()


@pytest.fixture(scope="module")
def small_bodies(tmp_root, limits_url):
    with serving(tmp_root, limits_url, max_body_bytes=MAX_BODY,
                 graphql_max_body_bytes=MAX_GRAPHQL_BODY) as live:
        yield live


@pytest.fixture
async def client(small_bodies):
    async with httpx.AsyncClient(base_url=small_bodies.url, timeout=30) as c:
        yield c


def chunks(total, size=100):
    async def generate():
        sent = 0
        while sent < total:
            yield b"x" * min(size, total - sent)
            sent += size
    return generate()


JSON = {"Content-Type": "application/json"}


async def test_a_declared_length_over_the_limit_is_refused_up_front(client, limits_tenant):
    for path, limit in (("/graphql", MAX_GRAPHQL_BODY), ("/v1/documents", MAX_BODY),
                        ("/v1/workspace", MAX_BODY)):
        r = await client.post(path, content=b"{" + b" " * limit + b"}",
                              headers={**limits_tenant.headers(), **JSON})
        if path == "/graphql":  # a GraphQL response there
            error = assert_graphql_error(r, 413, "payload_too_large")
            assert error["extensions"]["details"] == {"maxBytes": limit}
        else:
            error = assert_error(r, 413, "payload_too_large")
            assert error["details"] == {"max_bytes": limit}
        assert limits(r)[0] > 0  # counted, and says so


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(client, limits_tenant):
    # No Content-Length: the body is counted as it is read (here by the GraphQL
    # cost reader, and by the idempotency layer).
    r = await client.post("/graphql", content=chunks(MAX_GRAPHQL_BODY + 1),
                          headers={**limits_tenant.headers(), **JSON})
    assert "content-length" not in r.request.headers
    assert_graphql_error(r, 413, "payload_too_large")
    r = await client.post("/v1/documents", content=chunks(MAX_BODY * 3),
                          headers={**limits_tenant.headers(), "Idempotency-Key": "big"})
    assert_error(r, 413, "payload_too_large")
    r = await client.post("/v1/documents", content=chunks(MAX_BODY),
                          headers={**limits_tenant.headers(), "Idempotency-Key": "fits"})
    # Within the limit, the body reaches the route, which reads it (it is not JSON).
    error = assert_error(r, 400, "validation_error")
    assert error["message"] == "The request body is not valid JSON."


async def test_bodies_at_the_limit_pass(client, limits_tenant):
    query = b'{"query": "{ __typename }"}'
    # Over the API's general limit, within the GraphQL one: fine at /graphql.
    r = await client.post("/graphql", content=query + b" " * (MAX_GRAPHQL_BODY - len(query)),
                          headers={**limits_tenant.headers(), **JSON})
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {"__typename": "Query"}}

    async def streamed():
        yield query
        yield b" " * (MAX_GRAPHQL_BODY - len(query))

    r = await client.post("/graphql", content=streamed(),
                          headers={**limits_tenant.headers(), **JSON})
    assert r.status_code == 200, r.text


async def test_signed_uploads_are_held_to_their_signed_size_not_the_body_limit(
        client, small_bodies):
    store = small_bodies.app.state.store
    for content in (b"x" * (MAX_BODY * 5), chunks(MAX_BODY * 5)):
        key = f"workspaces/{uuid.uuid4()}/uploads/{uuid.uuid4().hex}.bin"
        up = store.presign_upload(key, content_type="application/octet-stream",
                                  size=MAX_BODY * 5)
        r = await client.put(up.url, content=content, headers=up.headers)
        assert r.status_code == 200, r.text
        # Counted against the client's address, like all traffic without a key.
        assert limits(r)[0] > 0
    key = f"workspaces/{uuid.uuid4()}/uploads/{uuid.uuid4().hex}.bin"
    up = store.presign_upload(key, content_type="application/octet-stream", size=MAX_BODY * 2)
    r = await client.put(up.url, content=b"x" * (MAX_BODY * 2 + 1), headers=up.headers)
    error = assert_error(r, 413, "payload_too_large")
    assert error["details"] != {"max_bytes": MAX_BODY}


@contextlib.asynccontextmanager
async def table_locked(url, table):
    """Hold an exclusive lock on ``table``: statements that read it wait."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(f"lock table {table} in access exclusive mode")
            yield
    finally:
        await conn.close()


async def test_a_statement_over_the_timeout_answers_503_with_retry_after(
        tmp_root, limits_url, limits_tenant):
    with serving(tmp_root, limits_url, db_statement_timeout_ms=300) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            async with table_locked(limits_url, "workspaces"):
                r = await client.get("/v1/workspace", headers=limits_tenant.headers())
            error = assert_error(r, 503, "unavailable")
            assert int(r.headers["retry-after"]) >= 1
            assert error["message"]
            # The rate limiter's statement had run: the 503 says what was counted.
            assert limits(r)[0] > 0
            r = await client.get("/v1/workspace", headers=limits_tenant.headers())
            assert r.status_code == 200


async def test_an_exhausted_pool_answers_503_with_retry_after_instead_of_waiting(
        tmp_root, limits_url, limits_tenant):
    with serving(tmp_root, limits_url, db_pool_min=1, db_pool_max=1,
                 db_acquire_timeout=0.5, db_statement_timeout_ms=20000) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            async with table_locked(limits_url, "workspaces"):
                # This request holds the only connection, waiting on the lock...
                held = asyncio.create_task(
                    client.get("/v1/workspace", headers=limits_tenant.headers()))
                await waiting_on_a_lock(limits_url)
                # ...so this one cannot get a connection, and says so.
                r = await client.get("/v1/workspace", headers=limits_tenant.headers())
                error = assert_error(r, 503, "unavailable")
                assert int(r.headers["retry-after"]) >= 1
                assert "busy" in error["message"]
                assert not held.done()
            assert (await held).status_code == 200
            r = await client.get("/readyz")
            assert r.status_code == 200


async def test_connections_are_handed_out_in_the_order_they_were_asked_for(limits_url):
    """Under contention nobody jumps the line: a request that waits for a connection
    gets one before any request that asked after it (asyncpg's own pool queue lets
    newcomers take a connection released for a waiter)."""
    db = await Database.connect(limits_url, min_size=2, max_size=2, acquire_timeout=30)
    asked: list[int] = []
    granted: list[int] = []
    tickets = iter(range(400))

    async def worker() -> None:
        for ticket in tickets:
            asked.append(ticket)
            async with db.connection() as conn:
                granted.append(ticket)
                await conn.fetchval("select 1")

    try:
        await asyncio.gather(*(worker() for _ in range(20)))
    finally:
        await db.close()
    assert len(granted) == 400
    assert granted == asked


async def test_requests_over_the_active_limit_wait_their_turn_and_time_out_with_503(
        tmp_root, limits_url, limits_tenant):
    with serving(tmp_root, limits_url, max_active_requests=1, queue_timeout_seconds=0.5,
                 db_statement_timeout_ms=20000) as live:
        store = live.app.state.store
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            async with table_locked(limits_url, "workspaces"):
                # This request has the worker's only turn, waiting on the lock...
                held = asyncio.create_task(
                    client.get("/v1/workspace", headers=limits_tenant.headers()))
                await waiting_on_a_lock(limits_url)
                # ...so this one waits in line, and gives up with 503 at the timeout
                # without having touched the database (no rate-limit count).
                r = await client.get("/v1/workspace", headers=limits_tenant.headers())
                error = assert_error(r, 503, "unavailable")
                assert int(r.headers["retry-after"]) >= 1
                assert "busy" in error["message"]
                assert error["details"] == {"queue_timeout_seconds": 0.5}
                assert "x-ratelimit-limit" not in r.headers
                # GraphQL waits in the same line.
                r = await client.post("/graphql", json={"query": "{ workspace { id } }"},
                                      headers=limits_tenant.headers())
                error = assert_graphql_error(r, 503, "unavailable")
                assert error["extensions"]["retryAfter"] == int(r.headers["retry-after"])
                # Health checks and signed storage transfers never wait.
                assert (await client.get("/healthz")).status_code == 200
                assert (await client.get("/readyz")).status_code == 200
                key = f"workspaces/{limits_tenant.id}/uploads/{uuid.uuid4().hex}.bin"
                up = store.presign_upload(key, content_type="application/octet-stream", size=5)
                r = await client.put(up.url, content=b"bytes", headers=up.headers)
                assert r.status_code == 200, r.text
                assert (await store.stat(key)).size == 5
                assert not held.done()
            assert (await held).status_code == 200
            # The turn is given back: the next request is served.
            r = await client.get("/v1/workspace", headers=limits_tenant.headers())
            assert r.status_code == 200


async def test_waiting_requests_are_admitted_in_the_order_they_arrived():
    admitted: list[int] = []
    active = most_active = 0
    finished: dict[int, asyncio.Event] = {}

    async def app(scope, receive, send):
        nonlocal active, most_active
        admitted.append(scope["n"])
        active += 1
        most_active = max(most_active, active)
        await finished[scope["n"]].wait()
        active -= 1

    admission = AdmissionMiddleware(app, limit=2, queue_timeout=30, exempt_paths=frozenset())
    calls = []
    for n in range(8):
        finished[n] = asyncio.Event()
        scope = {"type": "http", "path": "/v1/documents", "n": n}
        calls.append(asyncio.create_task(admission(scope, None, None)))
        await asyncio.sleep(0)  # it arrives, and finds its place, before the next
    await asyncio.sleep(0)
    assert admitted == [0, 1]
    # Finish them out of order: whoever waited longest goes in next.
    for n in (1, 0, 3, 2, 5, 4, 7, 6):
        finished[n].set()
        for _ in range(3):
            await asyncio.sleep(0)
    await asyncio.gather(*calls)
    assert admitted == list(range(8))
    assert most_active == 2
