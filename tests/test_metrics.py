"""Prometheus metrics at /metrics: protected, counting what happened, bounded, every worker.

What a scraper relies on: the exposition's series and their values after known
requests — counts, histogram buckets, statements per request (the same figure
as ``X-Statement-Count``), refusals, replays, jobs, storage calls, the admission
queue and the pool — through one worker or two, with bounded label values
whatever operation names clients send.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from docgraph.ops.embedded import free_port
from tests.conftest import LiveServer, make_tenant
from tests.instances import Instance, fresh_database, serving, waiting_on_a_lock
from tests.rest import RestAPI, assert_error, png
from tests.test_workers import served_connections, until, worker_pids

TOKEN = "metrics-token-0123456789abcdef0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}

Samples = list[tuple[str, dict[str, str], float]]


def parse(text: str) -> Samples:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(v for n, lab, v in samples
               if n == name and all(lab.get(k) == want for k, want in labels.items()))


def series(samples: Samples, name: str, **labels: str) -> list[dict[str, str]]:
    return [lab for n, lab, _ in samples
            if n == name and all(lab.get(k) == want for k, want in labels.items())]


def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    r = httpx.get(url + "/metrics", headers=SCRAPE if headers is None else headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def assert_histogram(samples: Samples, name: str, count: float, **labels: str) -> None:
    """``count`` observations, in cumulative buckets ending at +Inf."""
    assert value(samples, f"{name}_count", **labels) == count
    buckets = sorted(((float(lab["le"]), v) for n, lab, v in samples
                      if n == f"{name}_bucket"
                      and all(lab.get(k) == want for k, want in labels.items())),
                     key=lambda b: b[0])
    assert buckets, f"no buckets of {name} {labels}"
    by_le: dict[float, float] = {}
    for le, v in buckets:  # the same le over several series (methods, statuses): add up
        by_le[le] = by_le.get(le, 0) + v
    counts = [by_le[le] for le in sorted(by_le)]
    assert counts == sorted(counts), f"buckets of {name} are not cumulative: {by_le}"
    assert by_le[float("inf")] == count


# -- protection ----------------------------------------------------------------------

async def test_without_configuration_there_is_no_metrics_endpoint(server, tenant):
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert_error(await client.get("/metrics"), 404, "not_found")
        assert_error(await client.get("/metrics", headers=tenant.headers()), 404, "not_found")
        assert_error(await client.get("/metrics", headers=SCRAPE), 404, "not_found")
    assert server.app.state.observability.enabled is False


async def test_the_token_protects_metrics_on_the_api_port(tmp_root, database_url, tenant):
    with serving(tmp_root, database_url, metrics_token=TOKEN) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            for headers in ({}, {"Authorization": "Bearer wrong"}, tenant.headers(),
                            {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"},
                            {"Authorization": f"Bearer {TOKEN}x"}):
                r = await client.get("/metrics", headers=headers)
                assert_error(r, 401, "invalid_key")
                assert r.headers["www-authenticate"] == 'Bearer realm="metrics"'
            r = await client.get("/metrics", headers=SCRAPE)
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/plain; version=")
            assert "# TYPE docgraph_http_requests_total counter" in r.text
            assert_error(await client.post("/metrics", headers=SCRAPE), 405,
                         "method_not_allowed")


async def test_with_a_metrics_port_alone_the_api_port_has_no_metrics(tmp_root, database_url):
    with serving(tmp_root, database_url, metrics_port=free_port()) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            assert_error(await client.get("/metrics", headers=SCRAPE), 404, "not_found")
        # Collected all the same, for the port (which `docgraph serve` answers).
        assert live.app.state.observability.metrics is not None


def test_the_metrics_port_must_not_be_the_api_port():
    from docgraph.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="DOCGRAPH_METRICS_PORT"):
        Settings.from_env({"DOCGRAPH_PORT": "9000", "DOCGRAPH_METRICS_PORT": "9000"})
    with pytest.raises(ConfigError, match="DOCGRAPH_METRICS_TOKEN"):
        Settings.from_env({"DOCGRAPH_METRICS_TOKEN": "short"})


# -- what is counted (one process) ---------------------------------------------------------

@pytest.fixture
def metered(tmp_root, database_url) -> Iterator[LiveServer]:
    with serving(tmp_root, database_url, metrics_token=TOKEN, rate_limit=12) as live:
        yield live


async def test_requests_are_counted_by_route_operation_and_status(metered, db):
    tenant = await make_tenant(db)
    statements = []
    async with httpx.AsyncClient(base_url=metered.url, headers=tenant.headers()) as client:
        for _ in range(3):
            r = await client.get("/v1/workspace")
            assert r.status_code == 200
            statements.append(int(r.headers["x-statement-count"]))
        for _ in range(2):
            r = await client.get(f"/v1/documents/{uuid.uuid4()}")
            assert r.status_code == 404
        count = "documents(first: 1) { totalCount }"
        for _ in range(2):
            r = await client.post("/graphql", json={
                "query": f"query Mine {{ {count} }} query Other {{ {count} }}",
                "operationName": "Mine"})
            assert r.status_code == 200 and "errors" not in r.json()
        r = await client.post("/graphql", json={"query": f"{{ {count} }}"})
        assert r.status_code == 200
        r = await client.post("/graphql", json={"query": f"query Named {{ {count} }}"})
        assert r.status_code == 200
        r = await client.post("/graphql", json={"query": f"{{ {count}"})  # a syntax error
        assert r.status_code == 200 and "data" not in r.json()
        r = await client.get("/no/such/path")
        assert r.status_code == 404

    samples = scrape(metered.url)
    requests = "docgraph_http_requests_total"
    assert value(samples, requests, method="GET", route="/v1/workspace", operation="",
                 status="200") == 3
    assert value(samples, requests, method="GET", route="/v1/documents/{id}",
                 status="404") == 2
    assert value(samples, requests, route="/graphql", operation="Mine", status="200") == 2
    assert value(samples, requests, route="/graphql", operation="Other") == 0
    assert value(samples, requests, route="/graphql", operation="(anonymous)") == 1
    # The document's one operation, though the request did not name it.
    assert value(samples, requests, route="/graphql", operation="Named") == 1
    assert value(samples, requests, route="/graphql", operation="(none)") == 1
    # An unknown path is one series, whatever the path.
    assert value(samples, requests, route="(unmatched)", status="404") == 1
    assert series(samples, requests, route="/no/such/path") == []

    assert_histogram(samples, "docgraph_http_request_duration_seconds", 3,
                     route="/v1/workspace")
    assert_histogram(samples, "docgraph_http_request_duration_seconds", 2,
                     route="/graphql", operation="Mine")
    # Statements per request: what X-Statement-Count said, request by request.
    assert_histogram(samples, "docgraph_http_request_sql_statements", 3, route="/v1/workspace")
    assert value(samples, "docgraph_http_request_sql_statements_sum",
                 route="/v1/workspace") == sum(statements)
    for count in set(statements):
        assert value(samples, "docgraph_http_request_sql_statements_bucket",
                     route="/v1/workspace", le=f"{float(count)}") >= statements.count(count)
    assert_histogram(samples, "docgraph_http_request_sql_duration_seconds", 3,
                     route="/v1/workspace")
    assert value(samples, "docgraph_http_request_sql_duration_seconds_sum",
                 route="/v1/workspace") > 0
    # The pool, sampled as the scrape was answered.
    assert value(samples, "docgraph_db_pool_connections_max") == 10
    assert value(samples, "docgraph_db_pool_connections") >= 1


async def test_refusals_replays_jobs_and_storage_calls_are_counted(metered, db):
    tenant = await make_tenant(db)
    async with httpx.AsyncClient(base_url=metered.url, timeout=30) as client:
        api = RestAPI(client, tenant)
        # A PNG: its preview is a background job; its upload and record, storage calls.
        document = await api.create_document(png(40, 30), name="photo.png",
                                             mime_type="image/png")
        replayed = {"Idempotency-Key": str(uuid.uuid4())}
        first = await api.post("/v1/contacts", json={"name": "Ada"}, headers=replayed)
        again = await api.post("/v1/contacts", json={"name": "Ada"}, headers=replayed)
        assert first.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        # The key's window is 12 requests: spend it.
        statuses = [(await api.get(f"/v1/documents/{document['id']}")).status_code
                    for _ in range(12)]
        assert statuses.count(429) >= 1
        # Without a valid key, the address's own (large) limit: no refusal.
        r = await client.get("/v1/workspace", headers={"Authorization": "Bearer wbk_nope"})
        assert r.status_code == 401

    def preview_done() -> bool:
        return value(scrape(metered.url), "docgraph_jobs_finished_total", kind="preview",
                     outcome="succeeded") == 1
    until(preview_done, "the preview job finished")

    samples = scrape(metered.url)
    assert value(samples, "docgraph_rate_limit_refusals_total",
                 limited_by="key") == statuses.count(429)
    assert value(samples, "docgraph_rate_limit_refusals_total", limited_by="address") == 0
    assert value(samples, "docgraph_http_requests_total", status="429") == statuses.count(429)
    assert value(samples, "docgraph_idempotency_replays_total") == 1
    assert value(samples, "docgraph_jobs_finished_total", outcome="failed") == 0
    assert value(samples, "docgraph_jobs_queued", kind="preview") == 0
    assert value(samples, "docgraph_jobs_running", kind="preview") == 0
    assert_histogram(samples, "docgraph_job_duration_seconds", 1, kind="preview")
    # Recording the document looked the object up; the preview read it and wrote one.
    for operation in ("stat", "read_head", "write"):
        assert value(samples, "docgraph_storage_call_duration_seconds_count", backend="local",
                     operation=operation) >= 1, operation
    assert value(samples, "docgraph_storage_call_errors_total") == 0


async def test_the_admission_queue_and_the_pool_line_are_seen_while_they_wait(tmp_root,
                                                                             cluster):
    """A request held on a lock keeps the only turn (and the only connection); the next
    one waits: the scrape, which never waits, shows it waiting, then its wait."""
    url = await fresh_database(cluster, "metrics_queue")
    database = await asyncpg.connect(url)
    pool = None
    try:
        from docgraph.db.database import Database

        pool = await Database.connect(url, min_size=1, max_size=1)
        tenant = await make_tenant(pool)
        with serving(tmp_root, url, metrics_token=TOKEN, max_active_requests=1,
                     db_pool_min=1, db_pool_max=1, db_acquire_timeout=60.0,
                     queue_timeout_seconds=60.0) as live:
            async with httpx.AsyncClient(base_url=live.url, headers=tenant.headers(),
                                         timeout=60) as client:
                assert (await client.get("/v1/workspace")).status_code == 200  # its window
                transaction = database.transaction()
                await transaction.start()
                await database.execute("lock table rate_limit_windows in exclusive mode")
                held = asyncio.create_task(client.get("/v1/workspace"))
                await waiting_on_a_lock(url)
                queued = asyncio.create_task(client.get("/v1/workspace"))

                def waiting() -> bool:
                    samples = scrape(live.url)
                    return value(samples, "docgraph_admission_queue_length") == 1

                await asyncio.to_thread(until, waiting, "a request waiting for its turn")
                samples = scrape(live.url)
                assert value(samples, "docgraph_db_pool_connections_in_use") == 1
                await transaction.commit()
                assert (await held).status_code == 200
                assert (await queued).status_code == 200
        samples = parse_last(live)
        assert value(samples, "docgraph_admission_queue_length") == 0
        assert_histogram(samples, "docgraph_admission_wait_seconds", 1)
        assert value(samples, "docgraph_admission_refused_total") == 0
    finally:
        await database.close()
        if pool is not None:
            await pool.close()


def parse_last(live: LiveServer) -> Samples:
    """The metrics of a server that has stopped (read from its registry)."""
    return parse(live.app.state.observability.metrics.exposition().decode())


async def test_callers_waiting_for_a_connection_are_seen(tmp_root, cluster):
    url = await fresh_database(cluster, "metrics_pool")
    database = await asyncpg.connect(url)
    try:
        from docgraph.db.database import Database

        setup = await Database.connect(url, min_size=1, max_size=1)
        try:
            tenant = await make_tenant(setup)
        finally:
            await setup.close()
        with serving(tmp_root, url, metrics_token=TOKEN, max_active_requests=0,
                     db_pool_min=1, db_pool_max=1, db_acquire_timeout=60.0) as live:
            async with httpx.AsyncClient(base_url=live.url, headers=tenant.headers(),
                                         timeout=60) as client:
                assert (await client.get("/v1/workspace")).status_code == 200
                transaction = database.transaction()
                await transaction.start()
                await database.execute("lock table rate_limit_windows in exclusive mode")
                held = asyncio.create_task(client.get("/v1/workspace"))
                await waiting_on_a_lock(url)
                second = asyncio.create_task(client.get("/v1/workspace"))

                def in_line() -> bool:
                    return value(scrape(live.url), "docgraph_db_pool_waiting") == 1

                await asyncio.to_thread(until, in_line, "a request waiting for a connection")
                await transaction.commit()
                assert (await held).status_code == 200
                assert (await second).status_code == 200
                samples = scrape(live.url)
                assert value(samples, "docgraph_db_pool_waiting") == 0
    finally:
        await database.close()


# -- docgraph serve with two workers ---------------------------------------------------------

MAX_OPERATIONS = 25


@pytest.fixture(scope="module")
async def metrics_url(cluster):
    return await fresh_database(cluster, "metrics_workers")


@pytest.fixture
def two_workers(metrics_url, tmp_root) -> Iterator[Instance]:
    instance = Instance(metrics_url, tmp_root, DOCGRAPH_WORKERS="2", DOCGRAPH_METRICS_TOKEN=TOKEN,
                        DOCGRAPH_METRICS_PORT=str(free_port()),
                        DOCGRAPH_METRICS_MAX_OPERATIONS=str(MAX_OPERATIONS),
                        DOCGRAPH_RATE_LIMIT="100000").start()
    try:
        until(lambda: len(worker_pids(instance)) == 2, "two workers")
        yield instance
    finally:
        instance.stop()


def on_both_workers(instance: Instance) -> list[httpx.Client]:
    """Two keep-alive clients, one held by each worker (once both accept connections:
    a worker still starting leaves both to the other)."""
    clients: list[httpx.Client] = []

    def one_each() -> bool:
        for client in clients:
            client.close()
        clients[:] = [httpx.Client(base_url=instance.url, timeout=30) for _ in range(2)]
        for client in clients:
            assert client.get("/healthz").status_code == 200
        return sorted(served_connections(instance).values()) == [1, 1]

    until(one_each, "a connection held by each worker")
    return clients


async def test_two_workers_are_counted_together_and_names_stay_bounded(two_workers,
                                                                       metrics_url):
    from docgraph.db.database import Database

    setup = await Database.connect(metrics_url, min_size=1, max_size=1)
    try:
        tenant = await make_tenant(setup)
    finally:
        await setup.close()
    port_url = f"http://127.0.0.1:{two_workers.env['DOCGRAPH_METRICS_PORT']}"
    clients = on_both_workers(two_workers)
    try:
        statements = []
        for i in range(10):
            r = clients[i % 2].get("/v1/workspace", headers=tenant.headers())
            assert r.status_code == 200
            statements.append(int(r.headers["x-statement-count"]))

        # Each worker's /metrics, and the supervisor's port (no token), count both workers.
        for samples in (parse(clients[0].get("/metrics", headers=SCRAPE).text),
                        parse(clients[1].get("/metrics", headers=SCRAPE).text),
                        scrape(port_url, headers={})):
            assert value(samples, "docgraph_http_requests_total", route="/v1/workspace",
                         status="200") == 10
            assert_histogram(samples, "docgraph_http_request_duration_seconds", 10,
                             route="/v1/workspace")
            assert value(samples, "docgraph_http_request_sql_statements_sum",
                         route="/v1/workspace") == sum(statements)
            assert value(samples, "docgraph_db_pool_connections_max") == 20  # 10 a worker

        # 1,000 distinct operation names, half to each worker.
        for i in range(1000):
            r = clients[i % 2].post("/graphql", headers=tenant.headers(), json={
                "query": f"query Op{i:04d} {{ documents(first: 1) {{ totalCount }} }}",
                "operationName": f"Op{i:04d}"})
            assert r.status_code == 200, r.text
        scraped = clients[0].get("/metrics", headers=SCRAPE)
        samples = parse(scraped.text)
        graphql = series(samples, "docgraph_http_requests_total", route="/graphql")
        names = {lab["operation"] for lab in graphql} - {"(other)"}
        # Each worker labels the first MAX_OPERATIONS names it sees; the rest are (other).
        assert len(names) == 2 * MAX_OPERATIONS, sorted(names)
        assert value(samples, "docgraph_http_requests_total", route="/graphql") == 1000
        assert value(samples, "docgraph_http_requests_total", route="/graphql",
                     operation="(other)") == 1000 - len(names)
        assert len(series(samples, "docgraph_http_requests_total")) < 2 * MAX_OPERATIONS + 10
        # Per named operation: its counts by status, a latency and a statements histogram.
        assert len(scraped.content) < 2 * MAX_OPERATIONS * 4000 + 60_000, len(scraped.content)
    finally:
        for client in clients:
            client.close()

    # A worker that dies: its counts stay, its gauges go (the supervisor drops them).
    victim = worker_pids(two_workers)[0]
    os.kill(victim, signal.SIGKILL)
    until(lambda: len(worker_pids(two_workers)) == 2 and victim not in worker_pids(two_workers),
          "a replacement worker")

    def gauges_of_live_workers_only() -> bool:
        samples = scrape(port_url, headers={})
        return value(samples, "docgraph_db_pool_connections_max") == 20

    until(gauges_of_live_workers_only, "the dead worker's gauges dropped")
    samples = scrape(port_url, headers={})
    assert value(samples, "docgraph_http_requests_total", route="/v1/workspace") == 10
    assert value(samples, "docgraph_http_requests_total", route="/graphql") == 1000


async def test_a_manifests_operations_each_keep_their_label_past_the_limit(
        tmp_root, database_url, tmp_path, db):
    """With trusted documents every operation a client can run is known ahead: each
    has a label of its own, however low the limit for names seen at run time."""
    from docgraph.schema import build_schema
    from docgraph.schema.persisted import manifest

    texts = [f"query Listed{i} {{ documents(first: {i + 1}) {{ totalCount }} }}"
             for i in range(3)]
    path = tmp_path / "manifest.json"
    path.write_bytes(orjson.dumps(manifest(texts, build_schema())))
    tenant = await make_tenant(db)
    with serving(tmp_root, database_url, metrics_token=TOKEN, trusted_documents=path,
                 metrics_max_operations=1) as live:
        async with httpx.AsyncClient(base_url=live.url, headers=tenant.headers()) as client:
            for text in texts:
                r = await client.post("/graphql", json={"query": text})
                assert r.status_code == 200 and "errors" not in r.json(), r.text
            for name in ("Unlisted", "Unlisted2"):
                r = await client.post("/graphql",
                                      json={"query": f"query {name} {{ __typename }}"})
                assert r.status_code == 400  # not in the manifest: refused
        samples = scrape(live.url)
    names = {lab["operation"] for lab in series(samples, "docgraph_http_requests_total",
                                                 route="/graphql")}
    # The manifest's names do not count towards the limit (1) for names seen at run
    # time: the first unlisted one gets its label, the next is (other).
    assert names == {"Listed0", "Listed1", "Listed2", "Unlisted", "(other)"}, names
    assert value(samples, "docgraph_http_requests_total", route="/graphql",
                 operation="(other)", status="400") == 1


async def test_one_worker_serve_writes_the_metrics_its_port_reads(metrics_url, tmp_root):
    """With one worker the app runs in the supervising process itself: the port still
    reads what it counted (prometheus-client's multiprocess values, set up late)."""
    from docgraph.db.database import Database

    setup = await Database.connect(metrics_url, min_size=1, max_size=1)
    try:
        tenant = await make_tenant(setup)
    finally:
        await setup.close()
    port = free_port()
    instance = Instance(metrics_url, tmp_root, DOCGRAPH_METRICS_PORT=str(port)).start()
    try:
        async with httpx.AsyncClient(base_url=instance.url) as client:
            assert (await client.get("/v1/workspace", headers=tenant.headers())).status_code \
                == 200
            assert_error(await client.get("/metrics", headers=SCRAPE), 404, "not_found")
        samples = await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}", {})
        assert value(samples, "docgraph_http_requests_total", route="/v1/workspace",
                     status="200") == 1
    finally:
        instance.stop()
