"""Rate limits through HTTP: headers on every response, 429, per key and per address, leases."""

import asyncio
import random

import httpx
import pytest

from docgraph.config import Settings
from docgraph.db.database import Database
from docgraph.resolvers import auth
from docgraph.resolvers.rate_limits import RateLimiter
from tests.conftest import TEST_ADDRESS_RATE_LIMIT, make_tenant
from tests.gql import assert_graphql_error
from tests.instances import fresh_database, instances, serving
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


# Leases: each worker process takes a block of a window's requests in one statement
# and counts against it in memory. The tests above run with DOCGRAPH_RATE_LIMIT_LEASE=1
# (the test server's), where every request is counted in PostgreSQL as before.

LEASE = 5


def typenames(n: int) -> dict:
    """A GraphQL request of ``n`` root fields (cost n) that sends no SQL of its own."""
    return {"query": "{ " + " ".join(f"f{i}: __typename" for i in range(n)) + " }"}


def statement_count(r: httpx.Response) -> int:
    return int(r.headers["x-statement-count"])


async def window_row(db, bucket: str):
    return await db.fetchrow("select hits, window_end from rate_limit_windows where bucket = $1",
                             bucket)


async def test_one_process_that_leases_counts_exactly(tmp_root, database_url, db, tenant):
    key, _ = await key_with_limit(db, tenant, 20)
    with serving(tmp_root, database_url, rate_limit_lease=LEASE) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            responses = await asyncio.gather(*(
                client.get("/v1/workspace", headers=tenant.headers(key)) for _ in range(30)))
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    # One lessee spends all it leased: the limit exactly, each count seen once.
    assert len(ok) == 20 and len(refused) == 10
    assert sorted(limits(r)[1] for r in ok) == list(range(20))
    for r in refused:
        assert_error(r, 429, "rate_limited")
        assert limits(r)[:2] == (20, 0)
        assert int(r.headers["retry-after"]) >= 1


@pytest.mark.parametrize(("lease", "statements"), [(1, 100), (20, 5)])
async def test_a_burst_sends_one_statement_per_lease_not_per_request(
        tmp_root, database_url, db, tenant, lease, statements):
    key, record = await key_with_limit(db, tenant, 1000)
    headers = tenant.headers(key)
    with serving(tmp_root, database_url, rate_limit_lease=lease,
                 key_cache_seconds=600.0) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            # Looks the key up (then cached) and takes the first lease: 19 held with 20.
            first = await client.get("/v1/nothing", headers=headers)
            assert first.status_code == 404
            assert statement_count(first) == 2
            # An unknown path sends no SQL of its own: what is counted is the limiter's.
            burst = await asyncio.gather(*(client.get("/v1/nothing", headers=headers)
                                           for _ in range(100)))
            assert {r.status_code for r in burst} == {404}
            assert sum(statement_count(r) for r in burst) == statements
            assert sorted(limits(r)[1] for r in burst) == list(range(899, 999))
            # What the database counted: every lease, whole (with 20: 6 leases of 20).
            hits, _ = await window_row(db, f"k:{record['id']}")
            assert hits == (101 if lease == 1 else 120)


async def test_a_request_costing_more_than_the_lease_holds_leases_what_it_lacks(
        tmp_root, database_url, db, tenant):
    key, record = await key_with_limit(db, tenant, 24)
    headers, bucket = tenant.headers(key), f"k:{record['id']}"
    with serving(tmp_root, database_url, rate_limit_lease=LEASE,
                 key_cache_seconds=600.0) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            r = await client.get("/v1/nothing", headers=headers)
            # A lease takes at most an eighth of what is left: 3 of 24.
            assert limits(r)[:2] == (24, 23)
            assert (await window_row(db, bucket))["hits"] == 3
            r = await client.post("/graphql", json=typenames(20), headers=headers)
            assert r.status_code == 200 and "errors" not in r.json(), r.text
            # 2 held, 18 leased in one statement.
            assert statement_count(r) == 1
            assert limits(r)[:2] == (24, 3)
            assert (await window_row(db, bucket))["hits"] == 21
            # 4 when 3 are left: refused, counting nothing.
            r = await client.post("/graphql", json=typenames(4), headers=headers)
            error = assert_graphql_error(r, 429, "rate_limited")
            assert error["extensions"]["details"]["cost"] == 4
            assert limits(r)[:2] == (24, 3)
            assert (await window_row(db, bucket))["hits"] == 21
            r = await client.post("/graphql", json=typenames(3), headers=headers)
            assert r.status_code == 200 and limits(r)[:2] == (24, 0)
            r = await client.get("/v1/nothing", headers=headers)
            assert_error(r, 429, "rate_limited")
            assert limits(r)[:2] == (24, 0)
            assert (await window_row(db, bucket))["hits"] == 24


async def test_a_lease_ends_with_its_window(tmp_root, database_url, db, tenant):
    key, record = await key_with_limit(db, tenant, 40)
    headers, bucket = tenant.headers(key), f"k:{record['id']}"
    with serving(tmp_root, database_url, rate_limit_lease=LEASE, rate_limit_window_seconds=3,
                 key_cache_seconds=600.0) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            first = await client.get("/v1/nothing", headers=headers)
            assert statement_count(first) == 2  # the key, and a lease of 5
            assert limits(first)[:2] == (40, 39)
            assert 0 < limits(first)[2] <= 3
            ended = await window_row(db, bucket)
            assert ended["hits"] == 5
            # Wait for the window's end (as a client would, from X-RateLimit-Reset), and
            # a second more.
            await asyncio.sleep(limits(first)[2] + 1)
            # The 4 requests still held belong to the window that ended: the next
            # request leases from a new window rather than spending them.
            r = await client.get("/v1/nothing", headers=headers)
            assert statement_count(r) == 1
            assert limits(r)[:2] == (40, 39)
            assert 0 < limits(r)[2] <= 3
            row = await window_row(db, bucket)
            assert row["window_end"] > ended["window_end"]
            assert row["hits"] == 5


async def test_what_a_process_holds_goes_back_when_it_stops(tmp_root, database_url, db, tenant):
    key, record = await key_with_limit(db, tenant, 40)
    with serving(tmp_root, database_url, rate_limit_lease=LEASE) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            r = await client.get("/v1/workspace", headers=tenant.headers(key))
            assert limits(r)[:2] == (40, 39)
        assert (await window_row(db, f"k:{record['id']}"))["hits"] == 5
    # Stopped: the 4 it held are the window's again.
    assert (await window_row(db, f"k:{record['id']}"))["hits"] == 1


LEASED_LIMIT = 30


@pytest.fixture(scope="module")
async def leased_url(cluster):
    return await fresh_database(cluster, "leases")


@pytest.fixture(scope="module")
def leased_pair(leased_url, tmp_root):
    """Two ``docgraph serve`` processes (one worker each: two lessees) that lease."""
    with instances(leased_url, tmp_root, DOCGRAPH_RATE_LIMIT_LEASE=str(LEASE),
                   DOCGRAPH_RATE_LIMIT_WINDOW_SECONDS="3600",
                   DOCGRAPH_ADDRESS_RATE_LIMIT=str(LEASED_LIMIT),
                   DOCGRAPH_FORWARDED_ALLOW_IPS="127.0.0.1") as started:
        yield started


async def hammer(pair, rounds: int, per_round: int,
                 request) -> list[list[tuple[int, httpx.Response]]]:
    """``rounds`` bursts of concurrent requests, alternating between the instances.

    Each burst ends before the next starts. ``request(client, i)`` sends one; the
    answer is each burst's (instance, response) pairs.
    """
    async with httpx.AsyncClient(base_url=pair[0].url, timeout=30) as a, \
            httpx.AsyncClient(base_url=pair[1].url, timeout=30) as b:
        clients = (a, b)
        bursts = []
        for round_ in range(rounds):
            targets = [(i % 2, round_ * per_round + i) for i in range(per_round)]
            responses = await asyncio.gather(*(request(clients[which], n)
                                               for which, n in targets))
            bursts.append([(which, r) for (which, _), r in zip(targets, responses,
                                                                strict=True)])
        return bursts


def check_bursts(bursts, limit: int, cost_of) -> int:
    """What every burst's answers must say; returns the cost admitted in all."""
    admitted = 0
    lowest = {0: limit, 1: limit}
    for burst in bursts:
        seen = {0: [], 1: []}
        for which, r in burst:
            cost = cost_of(r)
            lim, remaining, reset = limits(r)
            assert lim == limit
            assert 0 < reset <= 3600
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) >= 1
                # Refused: this instance could not find the cost, and says so.
                assert remaining < cost
            else:
                admitted += cost
                assert remaining <= limit - cost
            seen[which].append(remaining)
        # Remaining never rises on an instance: every answer of this burst is at or
        # below every answer of the bursts before it.
        for which, values in seen.items():
            if values:
                assert max(values) <= lowest[which]
                lowest[which] = min(values)
    return admitted


async def test_two_instances_that_lease_never_let_more_than_the_limit_through(
        leased_pair, leased_url):
    own_db = await Database.connect(leased_url, min_size=1, max_size=2)
    try:
        tenant = await make_tenant(own_db)
        key, record = await key_with_limit(own_db, tenant, LEASED_LIMIT)

        def request(client, n):
            return client.get("/v1/workspace", headers=tenant.headers(key))

        bursts = await hammer(leased_pair, rounds=8, per_round=10, request=request)
        responses = [r for burst in bursts for _, r in burst]
        assert {r.status_code for r in responses} == {200, 429}
        for r in responses:
            if r.status_code == 429:
                assert_error(r, 429, "rate_limited")
                assert limits(r)[1] == 0
        admitted = check_bursts(bursts, LEASED_LIMIT, lambda r: 1)
        # Never more than the limit. Fewer by at most what the instance that never
        # refused still holds: less than one lease (the one that refused holds none).
        assert LEASED_LIMIT - (LEASE - 1) <= admitted <= LEASED_LIMIT
        assert {which for burst in bursts for which, r in burst if r.status_code == 200} \
            == {0, 1}
        hits, _ = await window_row(own_db, f"k:{record['id']}")
        assert hits == LEASED_LIMIT
    finally:
        await own_db.close()


async def test_two_instances_that_lease_count_graphql_root_fields_within_the_limit(
        leased_pair, leased_url):
    own_db = await Database.connect(leased_url, min_size=1, max_size=2)
    try:
        tenant = await make_tenant(own_db)
        key, record = await key_with_limit(own_db, tenant, LEASED_LIMIT)
        costs = (3, 1, 4, 2)

        def request(client, n):
            return client.post("/graphql", json=typenames(costs[n % len(costs)]),
                               headers=tenant.headers(key))

        def cost_of(r):
            return r.request.content.count(b"__typename")

        bursts = await hammer(leased_pair, rounds=6, per_round=8, request=request)
        for _, r in (pair for burst in bursts for pair in burst):
            if r.status_code == 429:
                error = assert_graphql_error(r, 429, "rate_limited")
                assert error["extensions"]["details"]["cost"] == cost_of(r)
            else:
                assert r.status_code == 200 and "errors" not in r.json(), r.text
        admitted = check_bursts(bursts, LEASED_LIMIT, cost_of)
        assert 0 < admitted <= LEASED_LIMIT
        hits, _ = await window_row(own_db, f"k:{record['id']}")
        assert admitted <= hits <= LEASED_LIMIT
    finally:
        await own_db.close()


async def test_two_instances_that_lease_limit_traffic_without_a_key_per_address(leased_pair):
    address = {"X-Forwarded-For": "203.0.113.9"}

    def request(client, n):
        return client.get("/v1/workspace", headers=address)

    bursts = await hammer(leased_pair, rounds=6, per_round=10, request=request)
    statuses = [r.status_code for burst in bursts for _, r in burst]
    assert set(statuses) == {401, 429}
    # A 401 is let through (and counted): at most the address's limit.
    assert LEASED_LIMIT - (LEASE - 1) <= statuses.count(401) <= LEASED_LIMIT
    check_bursts(bursts, LEASED_LIMIT, lambda r: 1)


async def test_a_lease_given_back_never_counts_against_a_later_window(db):
    bucket = f"a:{fake_address()}"
    first, second = (RateLimiter(db, lease=LEASE, window_seconds=60) for _ in range(2))
    hit = await first.count_for_address(bucket[2:], limit=40)
    assert (hit.allowed, hit.remaining) == (True, 39)
    # The window ends; another process's request opens the next one.
    await db.execute("update rate_limit_windows set window_end = now() where bucket = $1",
                     bucket)
    hit = await second.count_for_address(bucket[2:], limit=40)
    assert (hit.allowed, hit.remaining) == (True, 39)
    # The first process's 4 belonged to the window that ended: nothing to give back.
    assert await first.give_back() == 0
    assert (await window_row(db, bucket))["hits"] == 5
    assert await second.give_back() == 1
    assert (await window_row(db, bucket))["hits"] == 1


async def test_a_process_forgets_the_buckets_whose_windows_ended(db):
    class Small(RateLimiter):
        PRUNE_FROM = 4

    limiter = Small(db, lease=LEASE, window_seconds=1)
    addresses = [fake_address() for _ in range(4)]
    for address in addresses:
        assert (await limiter.count_for_address(address, limit=40)).allowed
    assert len(limiter._buckets) == 4
    await asyncio.sleep(1.5)  # every lease's window ends
    assert (await limiter.count_for_address(fake_address(), limit=40)).allowed
    assert len(limiter._buckets) == 1
