"""The database goes away while requests flow: 503 meanwhile, never a 500 or a hang,
recovery without help, and nothing acknowledged is lost.

These tests run PostgreSQL of their own with fsync and synchronous commit on
(as in production), since a crash is exactly what the test cluster's
settings give up durability for.
"""

import asyncio
import contextlib
import itertools
import os
import signal
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from docgraph.db.database import Database
from docgraph.db.migrate import migrate
from docgraph.ops.embedded import EmbeddedPostgres
from tests.conftest import create_database, make_tenant
from tests.gql import PDF, assert_graphql_error, put_upload, request_upload
from tests.instances import instances
from tests.test_http import assert_error


@pytest.fixture(scope="module")
def durable(tmp_root):
    pg = EmbeddedPostgres(tmp_root / "durable-pgdata", ephemeral=False)
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="module")
async def durable_url(durable):
    url = await create_database(durable, "restart")
    await migrate(url)
    return url


@pytest.fixture(scope="module")
async def durable_tenant(durable_url):
    database = await Database.connect(durable_url, min_size=1, max_size=2)
    try:
        return await make_tenant(database)
    finally:
        await database.close()


@pytest.fixture(scope="module")
def pair(durable_url, tmp_root, durable_tenant):
    with instances(durable_url, tmp_root, DOCGRAPH_DB_STATEMENT_TIMEOUT_MS="1000",
                   DOCGRAPH_DB_ACQUIRE_TIMEOUT="1", DOCGRAPH_RATE_LIMIT="100000") as started:
        yield started


@pytest.fixture
async def clients(pair):
    # The timeout is a safety net: a request that hangs fails the test.
    async with httpx.AsyncClient(base_url=pair[0].url, timeout=20) as a, \
            httpx.AsyncClient(base_url=pair[1].url, timeout=20) as b:
        yield a, b


CREATE = ("mutation($input: CreateDocumentInput!) { createDocument(input: $input) "
          "{ id storagePath } }")


class Load:
    """Requests flowing to both instances until stopped: reads, and createDocument
    mutations (with Idempotency-Key), each a write acknowledged by its answer."""

    def __init__(self, clients, tenant, workers=4):
        self.clients = clients
        self.tenant = tenant
        self.results: list[tuple[float, float, str, str, httpx.Response]] = []
        self.paths: dict[str, str] = {}  # idempotency key -> the storage path it records
        self.running = True
        self.tasks = [asyncio.create_task(self.work(i)) for i in range(workers)]

    async def work(self, worker):
        for n in itertools.count():
            if not self.running:
                return
            client = self.clients[(worker + n) % 2]
            started = time.monotonic()
            if n % 2:
                key = f"load-{uuid.uuid4()}"
                r = await self.write(client, key)
                kind = "write"
            else:
                key = ""
                r = await client.get("/v1/workspace", headers=self.tenant.headers())
                kind = "read"
            self.results.append((started, time.monotonic(), kind, key, r))
            await asyncio.sleep(0.005)

    async def write(self, client, key):
        """Upload a file and record it; the first answer that is not a success, if any."""
        r = await request_upload(client, self.tenant.headers())
        if outcome(r) != "ok":
            return r
        ticket = r.json()["data"]["requestUploadUrl"]
        put = await put_upload(client, ticket, PDF)
        if put.status_code != 200:  # (signed URLs are rate limited by address, in the database)
            return put
        self.paths[key] = ticket["storagePath"]
        return await client.post("/graphql", content=create_body(ticket["storagePath"]),
                                 headers={**self.tenant.headers(), "Idempotency-Key": key,
                                          "Content-Type": "application/json"})

    async def until(self, predicate, within=60):
        deadline = time.monotonic() + within
        while not predicate():
            assert time.monotonic() < deadline, "the load never got there"
            await asyncio.sleep(0.02)

    def outcomes_since(self, moment):
        return [outcome(r) for started, _, _, _, r in self.results if started >= moment]

    async def stop(self):
        self.running = False
        await asyncio.gather(*self.tasks)


def create_body(storage_path):
    return orjson.dumps({"query": CREATE, "variables": {"input": {
        "name": "ledger.pdf", "mimeType": "application/pdf", "storagePath": storage_path}}})


def outcome(response):
    """'ok', 'unavailable' (503, or a GraphQL error coded so) or what went wrong."""
    if response.status_code == 503:
        return "unavailable"
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    body = response.json()
    if "errors" not in body:
        return "ok"
    codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
    return "unavailable" if codes == {"unavailable"} else f"GraphQL {sorted(map(str, codes))}"


async def test_requests_get_503_while_the_database_restarts_then_recover_losing_nothing(
        pair, clients, durable, durable_url, durable_tenant):
    port = durable.port
    load = Load(clients, durable_tenant)
    try:
        await load.until(lambda: sum(kind == "write" and outcome(r) == "ok"
                                     for _, _, kind, _, r in load.results) >= 10)
        stopping = time.monotonic()
        await asyncio.to_thread(durable.stop, "immediate")  # a crash, as far as data goes
        await load.until(lambda: "unavailable" in load.outcomes_since(stopping))
        ready = await clients[0].get("/readyz")
        assert ready.status_code == 503
        assert int(ready.headers["retry-after"]) >= 1

        await asyncio.to_thread(durable.start, port)
        restarted = time.monotonic()
        # Both instances recover by themselves, for reads and writes.
        await load.until(lambda: {(str(r.url).split("/", 3)[2], kind)
                                  for started, _, kind, _, r in load.results
                                  if started > restarted and outcome(r) == "ok"} == {
            (str(c.base_url).split("/", 3)[2], kind) for c in clients
            for kind in ("read", "write")})
    finally:
        await load.stop()

    outcomes = {outcome(r) for *_, r in load.results}
    assert outcomes == {"ok", "unavailable"}, (outcomes, [i.log() for i in pair])
    for *_, r in load.results:
        if r.status_code == 503:
            if r.url.path == "/graphql":  # a GraphQL response there
                assert_graphql_error(r, 503, "unavailable")
            else:
                assert_error(r, 503, "unavailable")
            assert int(r.headers["retry-after"]) >= 1
    assert (await clients[1].get("/readyz")).status_code == 200

    # Every document whose creation was answered is there, before or after the crash.
    acknowledged = {r.json()["data"]["createDocument"]["id"]: (finished, key, r)
                    for _, finished, kind, key, r in load.results
                    if kind == "write" and outcome(r) == "ok"}
    assert sum(finished < stopping for finished, _, _ in acknowledged.values()) >= 10
    conn = await asyncpg.connect(durable_url)
    try:
        stored = {str(row["id"]) for row in await conn.fetch(
            "select id from documents where workspace_id = $1", durable_tenant.id)}
        # (Requests cut off by the crash may have left keys locked: no body.)
        kept = {row["key"]: bytes(row["body"]) for row in await conn.fetch(
            "select key, body from idempotency_records where workspace_id = $1 "
            "and body is not null", durable_tenant.id)}
    finally:
        await conn.close()
    assert set(acknowledged) <= stored
    # And each answered before the crash is answered again, not run again, on a retry.
    before = [(key, r) for finished, key, r in acknowledged.values() if finished < stopping]
    for key, r in before:
        assert kept.get(key) == r.content
    key, first = before[0]
    replay = await clients[1].post("/graphql", content=create_body(load.paths[key]), headers={
        **durable_tenant.headers(), "Idempotency-Key": key,
        "Content-Type": "application/json"})
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content


def cluster_processes(cluster: EmbeddedPostgres) -> list[int]:
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
    return [postmaster, *children]


@contextlib.contextmanager
def frozen(cluster: EmbeddedPostgres):
    """Every process of the cluster stopped (SIGSTOP): connections open, no answers."""
    pids = cluster_processes(cluster)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def test_a_database_that_stops_answering_gets_503_not_a_hang(
        clients, durable, durable_tenant):
    for client in clients:  # warm the pools: their connections will go silent
        assert (await client.get("/v1/workspace",
                                 headers=durable_tenant.headers())).status_code == 200
    with frozen(durable):
        responses = await asyncio.gather(*(
            client.get("/v1/workspace", headers=durable_tenant.headers())
            for client in clients for _ in range(3)))
        ready = await clients[0].get("/readyz")
    for r in responses:
        assert_error(r, 503, "unavailable")
        assert int(r.headers["retry-after"]) >= 1
    assert ready.status_code == 503

    deadline = time.monotonic() + 30
    recovered = set()
    while recovered != {0, 1}:
        assert time.monotonic() < deadline, "the instances did not recover"
        for i, client in enumerate(clients):
            r = await client.get("/v1/workspace", headers=durable_tenant.headers())
            assert r.status_code in (200, 503)
            if r.status_code == 200:
                recovered.add(i)
        await asyncio.sleep(0.05)
