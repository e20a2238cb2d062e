"""Two ``docgraph serve`` processes on one database: what they share holds across them."""

import asyncio
import itertools
import time
import uuid

import asyncpg
import httpx
import orjson
import pytest

from docgraph.config import Settings
from docgraph.db import api_keys, idempotency
from docgraph.db.database import Database
from docgraph.http.idempotency import fingerprint
from docgraph.resolvers import auth
from tests.conftest import make_tenant
from tests.gql import assert_graphql_error, uploaded_path
from tests.instances import Instance, fresh_database, instances, waiting_on_a_lock
from tests.test_http import assert_error
from tests.test_rate_limits import limits

ADDRESS_LIMIT = 20


@pytest.fixture(scope="module")
async def shared_url(cluster):
    return await fresh_database(cluster, "instances")


@pytest.fixture(scope="module")
async def shared_db(shared_url):
    database = await Database.connect(shared_url, min_size=1, max_size=4)
    yield database
    await database.close()


@pytest.fixture(scope="module")
def pair(shared_url, tmp_root):
    # A long window, so every burst below falls in one window; keys cached for
    # the default 2 seconds, as in production. Every request counted in PostgreSQL
    # (no leases): limits are exact and statement counts fixed; two instances that
    # lease are tested in tests/test_rate_limits.py.
    with instances(shared_url, tmp_root, DOCGRAPH_RATE_LIMIT_WINDOW_SECONDS="3600",
                   DOCGRAPH_RATE_LIMIT_LEASE="1",
                   DOCGRAPH_ADDRESS_RATE_LIMIT=str(ADDRESS_LIMIT),
                   DOCGRAPH_FORWARDED_ALLOW_IPS="127.0.0.1",
                   DOCGRAPH_KEY_CACHE_SECONDS="2") as started:
        yield started


@pytest.fixture
async def clients(pair):
    async with httpx.AsyncClient(base_url=pair[0].url, timeout=30) as a, \
            httpx.AsyncClient(base_url=pair[1].url, timeout=30) as b:
        yield a, b


async def spread(clients, count, method, path, **kwargs):
    """``count`` concurrent requests, alternating between the instances."""
    targets = itertools.islice(itertools.cycle(clients), count)
    return await asyncio.gather(*(c.request(method, path, **kwargs) for c in targets))


async def test_a_limit_of_100_lets_exactly_100_through_across_two_instances(
        clients, shared_db):
    tenant = await make_tenant(shared_db)
    key, _ = await auth.create_key(shared_db, tenant.id, auth.SCOPES, rate_limit=100)
    responses = await spread(clients, 160, "GET", "/v1/workspace",
                             headers=tenant.headers(key))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 100
    assert statuses.count(429) == 60
    # Both instances let requests through, and each of the 100 saw its own count.
    assert {str(r.url).split("/v1")[0] for r in responses if r.status_code == 200} == {
        str(c.base_url).rstrip("/") for c in clients}
    assert sorted(limits(r)[1] for r in responses if r.status_code == 200) == list(range(100))
    for r in responses:
        if r.status_code == 429:
            assert_error(r, 429, "rate_limited")
            assert limits(r)[:2] == (100, 0)
            assert int(r.headers["retry-after"]) >= 1


async def test_traffic_without_a_key_is_limited_per_address_across_instances(clients):
    address = {"X-Forwarded-For": "198.51.100.7"}
    responses = await spread(clients, ADDRESS_LIMIT + 10, "GET", "/v1/workspace",
                             headers=address)
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) == ADDRESS_LIMIT
    assert statuses.count(429) == 10
    # Another client address is untouched.
    r = await clients[1].get("/v1/workspace", headers={"X-Forwarded-For": "198.51.100.8"})
    assert_error(r, 401, "invalid_key")
    assert limits(r)[:2] == (ADDRESS_LIMIT, ADDRESS_LIMIT - 1)


async def test_a_revoked_key_stops_working_on_every_instance(clients, shared_db):
    tenant = await make_tenant(shared_db)
    key, record = await auth.create_key(shared_db, tenant.id, auth.SCOPES)
    for client in clients:
        first = await client.get("/v1/workspace", headers=tenant.headers(key))
        again = await client.get("/v1/workspace", headers=tenant.headers(key))
        assert first.status_code == again.status_code == 200
        # The second request did not look the key up: each instance caches it.
        assert int(again.headers["x-statement-count"]) == int(
            first.headers["x-statement-count"]) - 1

    await api_keys.revoke_key(shared_db, record["id"])
    # Within the cache lifetime (2 s) both instances refuse it; allow generous slack
    # for a loaded machine rather than asserting a time.
    refused: set[int] = set()
    deadline = time.monotonic() + 30
    while len(refused) < len(clients) and time.monotonic() < deadline:
        for i, client in enumerate(clients):
            r = await client.get("/v1/workspace", headers=tenant.headers(key))
            if r.status_code == 401:
                assert_error(r, 401, "invalid_key")
                refused.add(i)
            else:
                assert r.status_code == 200
        await asyncio.sleep(0.1)
    assert refused == {0, 1}
    # And it stays refused.
    for client in clients:
        assert (await client.get("/v1/workspace",
                                 headers=tenant.headers(key))).status_code == 401


CREATE = ("mutation($input: CreateDocumentInput!) { createDocument(input: $input) "
          "{ id storagePath } }")


def create_body(storage_path):
    return orjson.dumps({"query": CREATE, "variables": {"input": {
        "name": "contract.pdf", "mimeType": "application/pdf", "storagePath": storage_path}}})


async def documents_at(db, tenant, storage_path):
    return await db.fetchval("select count(*) from documents where workspace_id = $1 "
                             "and storage_path = $2 and deleted_at is null",
                             tenant.id, storage_path)


async def test_fifty_concurrent_retries_with_one_key_create_one_document_across_instances(
        clients, shared_db):
    tenant = await make_tenant(shared_db)
    key, path = "race-" + uuid.uuid4().hex, await uploaded_path(clients[0], tenant.headers())
    headers = {**tenant.headers(), "Idempotency-Key": key,
               "Content-Type": "application/json"}
    responses = await spread(clients, 50, "POST", "/graphql", content=create_body(path),
                             headers=headers)
    ran = [r for r in responses if r.status_code == 200
           and "idempotent-replayed" not in r.headers]
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    waiting = [r for r in responses if r.status_code == 409]
    assert len(ran) == 1
    assert len(ran) + len(replayed) + len(waiting) == 50
    created = ran[0].json()["data"]["createDocument"]
    for r in replayed:
        assert r.content == ran[0].content
    for r in waiting:
        assert_graphql_error(r, 409, "idempotency_in_progress")
    assert await documents_at(shared_db, tenant, path) == 1
    # Any instance replays it afterwards; another request under the key is refused.
    for client in clients:
        r = await client.post("/graphql", content=create_body(path), headers=headers)
        assert r.headers["idempotent-replayed"] == "true"
        assert r.content == ran[0].content
        r = await client.post("/graphql", content=create_body(path + ".other"),
                              headers=headers)
        assert_graphql_error(r, 422, "idempotency_key_reused")
    assert await shared_db.fetchval(
        "select id from documents where workspace_id = $1 and storage_path = $2",
        tenant.id, path) == uuid.UUID(created["id"])


async def test_a_key_held_by_an_instance_that_died_is_freed_by_its_lease(
        clients, shared_db, shared_url, tmp_root):
    tenant = await make_tenant(shared_db)
    key, path = "crash-" + uuid.uuid4().hex, await uploaded_path(clients[1], tenant.headers())
    headers = {**tenant.headers(), "Idempotency-Key": key,
               "Content-Type": "application/json"}
    doomed = Instance(shared_url, tmp_root, DOCGRAPH_IDEMPOTENCY_LEASE_SECONDS="3").start()
    try:
        lock = await asyncpg.connect(shared_url)
        try:
            async with lock.transaction():
                # The mutation claims the key, then waits on the lock; its instance dies.
                await lock.execute("lock table documents in access exclusive mode")
                async with httpx.AsyncClient(base_url=doomed.url, timeout=30) as c:
                    pending = asyncio.create_task(
                        c.post("/graphql", content=create_body(path), headers=headers))
                    await waiting_on_a_lock(shared_url)
                    doomed.kill()
                    with pytest.raises(httpx.HTTPError):
                        await pending
        finally:
            await lock.close()
    finally:
        doomed.stop()
    held = await shared_db.fetchrow("select status, body from idempotency_records "
                                    "where workspace_id = $1 and key = $2", tenant.id, key)
    assert (held["status"], held["body"]) == (None, None)  # claimed, never answered
    # While the lease runs, the key is busy on every instance...
    r = await clients[0].post("/graphql", content=create_body(path), headers=headers)
    assert_graphql_error(r, 409, "idempotency_in_progress")
    # ...and once it ran out, a retry runs the mutation (the dead one never committed).
    deadline = time.monotonic() + 30
    while r.status_code == 409:
        assert time.monotonic() < deadline, "the lease never ran out"
        await asyncio.sleep(0.2)
        r = await clients[1].post("/graphql", content=create_body(path), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["createDocument"]["storagePath"] == path
    assert "idempotent-replayed" not in r.headers
    assert await documents_at(shared_db, tenant, path) == 1
    replay = await clients[0].post("/graphql", content=create_body(path), headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == r.content


async def test_every_status_code_from_real_instances(clients, shared_db, shared_url):
    a, b = clients
    tenant = await make_tenant(shared_db)
    key, made = await auth.create_key(shared_db, tenant.id, auth.SCOPES, rate_limit=12)
    headers = tenant.headers(key)

    r = await a.post("/v1/workspace", headers={**headers, "Idempotency-Key": "x" * 256})
    assert_error(r, 400, "validation_error")
    r = await b.post("/graphql", content=b"{" + b" " * Settings().max_body_bytes + b"}",
                     headers=headers)
    assert_graphql_error(r, 413, "payload_too_large")
    r = await a.post("/v1/workspace", content=b"1", headers={**headers, "Idempotency-Key": "k"})
    assert_error(r, 405, "method_not_allowed")
    r = await b.post("/v1/workspace", content=b"2", headers={**headers, "Idempotency-Key": "k"})
    assert_error(r, 422, "idempotency_key_reused")
    # A request holding a key on an instance (as a slow one would): 409 on the other.
    scope = {"method": "POST", "path": "/v1/workspace", "query_string": b""}
    await idempotency.claim(shared_db, tenant.id, made["id"], "held",
                            fingerprint(scope, b"3"), uuid.uuid4(), lease_seconds=60,
                            retention_seconds=60)
    r = await b.post("/v1/workspace", content=b"3",
                     headers={**headers, "Idempotency-Key": "held"})
    assert_error(r, 409, "idempotency_in_progress")
    assert r.headers["retry-after"] == "1"
    # A slow database: the statement timeout (2 s by default) answers 503.
    conn = await asyncpg.connect(shared_url)
    try:
        async with conn.transaction():
            await conn.execute("lock table workspaces in access exclusive mode")
            r = await a.get("/v1/workspace", headers=headers)
    finally:
        await conn.close()
    assert_error(r, 503, "unavailable")
    assert int(r.headers["retry-after"]) >= 1
    # Six requests of the key's 12 are spent, whatever their status; six more pass.
    responses = [await client.get("/v1/workspace", headers=headers)
                 for client in (a, b, a, b, a, b, a)]
    assert [r.status_code for r in responses] == [200] * 6 + [429]
    assert [limits(r)[1] for r in responses] == [5, 4, 3, 2, 1, 0, 0]
    assert_error(responses[-1], 429, "rate_limited")
