"""Rate limits through HTTP: headers on every response, 429, per key and per address."""

import asyncio
import random

import httpx
import pytest

from docgraph.config import Settings
from docgraph.db.database import Database
from docgraph.resolvers import auth
from tests.conftest import TEST_ADDRESS_RATE_LIMIT, make_tenant
from tests.instances import fresh_database, serving
from tests.test_http import assert_error

DEFAULTS = Settings()


def fake_address() -> str:
    """A client address of its own (the test server trusts X-Forwarded-For from 127.0.0.1)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def limits(r: httpx.Response) -> tuple[int, int, int]:
    return (int(r.headers["x-ratelimit-limit"]), int(r.headers["x-ratelimit-remaining"]),
            int(r.headers["x-ratelimit-reset"]))


async def key_with_limit(db, tenant, limit, scopes=auth.SCOPES):
    key, record = await auth.create_key(db, tenant.id, scopes, rate_limit=limit)
    return key, record


async def test_every_response_carries_the_headers_errors_included(client, db, tenant):
    key, _ = await key_with_limit(db, tenant, 50)
    write_only, _ = await key_with_limit(db, tenant, 50, [auth.WRITE_DOCUMENTS])
    responses = [
        await client.get("/v1/workspace", headers=tenant.headers(key)),          # 200
        await client.get("/v1/workspace", headers=tenant.headers(write_only)),   # 403
        await client.get("/v1/nothing", headers=tenant.headers(key)),            # 404
        await client.delete("/v1/workspace", headers=tenant.headers(key)),       # 405
    ]
    assert [r.status_code for r in responses] == [200, 403, 404, 405]
    for r in responses:
        limit, remaining, reset = limits(r)
        assert limit == 50
        assert 0 < reset <= DEFAULTS.rate_limit_window_seconds
    # The same key's window counts down across statuses.
    assert [limits(r)[1] for r in (responses[0], responses[2], responses[3])] == [49, 48, 47]
    assert limits(responses[1])[1] == 49  # the other key has its own window

    unauthenticated = await client.get("/v1/workspace",
                                       headers={"X-Forwarded-For": fake_address()})
    assert_error(unauthenticated, 401, "invalid_key")
    limit, remaining, reset = limits(unauthenticated)
    assert (limit, remaining) == (TEST_ADDRESS_RATE_LIMIT,
                                  TEST_ADDRESS_RATE_LIMIT - 1)
    assert 0 < reset <= DEFAULTS.rate_limit_window_seconds


async def test_over_the_limit_is_429_with_retry_after(client, db, tenant):
    key, _ = await key_with_limit(db, tenant, 3)
    seen = []
    for _ in range(3):
        r = await client.get("/v1/workspace", headers=tenant.headers(key))
        assert r.status_code == 200
        seen.append(limits(r)[1])
    assert seen == [2, 1, 0]
    for _ in range(2):
        r = await client.get("/v1/workspace", headers=tenant.headers(key))
        error = assert_error(r, 429, "rate_limited")
        assert error["details"] == {"limit": 3, "cost": 1,
                                    "window_seconds": DEFAULTS.rate_limit_window_seconds}
        limit, remaining, reset = limits(r)
        assert (limit, remaining) == (3, 0)
        assert 1 <= int(r.headers["retry-after"]) <= DEFAULTS.rate_limit_window_seconds
        assert int(r.headers["retry-after"]) >= reset
        assert "x-request-id" in r.headers


async def test_a_key_without_its_own_limit_has_the_deployment_limit(client, tenant):
    r = await client.get("/v1/workspace", headers=tenant.headers())
    assert limits(r)[0] == DEFAULTS.rate_limit


async def test_concurrent_requests_get_exactly_the_limit_and_remaining_never_repeats(
        client, db, tenant):
    key, _ = await key_with_limit(db, tenant, 20)
    responses = await asyncio.gather(*(
        client.get("/v1/workspace", headers=tenant.headers(key)) for _ in range(30)))
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(ok) == 20 and len(refused) == 10
    # Each request let through saw its own count: remaining went 19, 18, ..., 0.
    assert sorted(limits(r)[1] for r in ok) == list(range(20))
    assert {limits(r)[1] for r in refused} == {0}


async def test_a_new_window_starts_once_the_last_one_ended(client, db, tenant):
    key, record = await key_with_limit(db, tenant, 2)
    for _ in range(2):
        assert (await client.get("/v1/workspace", headers=tenant.headers(key))).status_code == 200
    assert (await client.get("/v1/workspace", headers=tenant.headers(key))).status_code == 429
    # Let the window end (rather than wait for it): the next request opens a new one.
    await db.execute("update rate_limit_windows set window_end = now() where bucket = $1",
                     f"k:{record['id']}")
    r = await client.get("/v1/workspace", headers=tenant.headers(key))
    assert r.status_code == 200
    assert limits(r)[1] == 1
    assert limits(r)[2] >= DEFAULTS.rate_limit_window_seconds - 1


async def test_failed_authentication_spends_the_address_never_the_key(client, db, tenant):
    key, _ = await key_with_limit(db, tenant, 2)
    address = {"X-Forwarded-For": fake_address()}
    bad = [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer " + key[:-1] + "x"}]
    for n, headers in enumerate(bad, start=1):
        r = await client.get("/v1/workspace", headers={**headers, **address})
        assert_error(r, 401, "invalid_key")
        assert limits(r)[:2] == (TEST_ADDRESS_RATE_LIMIT,
                                 TEST_ADDRESS_RATE_LIMIT - n)
    r = await client.get("/v1/workspace", headers={**tenant.headers(key), **address})
    assert r.status_code == 200
    assert limits(r)[:2] == (2, 1)


async def test_revoked_keys_are_counted_against_the_address(client, db, tenant):
    key, record = await key_with_limit(db, tenant, 5)
    await db.execute("update api_keys set revoked_at = now() where id = $1", record["id"])
    address = {"X-Forwarded-For": fake_address()}
    r = await client.get("/v1/workspace", headers={**tenant.headers(key), **address})
    assert_error(r, 401, "invalid_key")
    assert limits(r)[0] == TEST_ADDRESS_RATE_LIMIT
    assert await db.fetchval("select count(*) from rate_limit_windows where bucket = $1",
                             f"k:{record['id']}") == 0


async def test_health_probes_are_never_limited(client):
    for path in ("/healthz", "/readyz"):
        r = await client.get(path)
        assert r.status_code == 200
        assert "x-ratelimit-limit" not in r.headers


@pytest.fixture
async def own_database(cluster):
    return await fresh_database(cluster, "ratelimit")


async def test_traffic_without_a_key_is_limited_per_address(tmp_root, own_database):
    own_db = await Database.connect(own_database, min_size=1, max_size=2)
    try:
        tenant = await make_tenant(own_db)
    finally:
        await own_db.close()
    with serving(tmp_root, own_database, address_rate_limit=3) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            first, second = {"X-Forwarded-For": "192.0.2.1"}, {"X-Forwarded-For": "192.0.2.2"}
            statuses = [(await client.get("/v1/workspace", headers=first)).status_code
                        for _ in range(4)]
            assert statuses == [401, 401, 401, 429]
            r = await client.get("/v1/workspace", headers=first)
            assert_error(r, 429, "rate_limited")
            assert limits(r)[:2] == (3, 0)
            assert int(r.headers["retry-after"]) >= 1
            # Another address has its own window; a valid key from the spent address
            # is counted against the key.
            assert (await client.get("/v1/workspace", headers=second)).status_code == 401
            r = await client.get("/v1/workspace", headers={**first, **tenant.headers()})
            assert r.status_code == 200
            assert limits(r)[0] == DEFAULTS.rate_limit
