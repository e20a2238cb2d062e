"""Prometheus metrics: what they count, how a request is measured, how they are served.

Collected only when someone can read them (``DOCGRAPH_METRICS_TOKEN`` or
``DOCGRAPH_METRICS_PORT``); otherwise nothing of this module is installed.

Under ``docgraph serve`` the metrics are in prometheus-client's multiprocess mode:
each worker writes its values to memory-mapped files in one directory
(``PROMETHEUS_MULTIPROC_DIR``, which ``serve`` creates empty, or empties, at
start: :func:`multiprocess_directory`), and whoever is scraped reads every
worker's files, so any worker's ``/metrics`` (and the supervisor's metrics port)
counts them all. Counters and histograms of a worker that died stay in the sum;
its gauges are dropped (:func:`worker_exited`). Elsewhere (``docgraph dev``, an
app served in a test) they live in the process's memory.

Labels are bounded whatever clients send: routes are the app's templates,
methods a fixed set, GraphQL operation names the first
``DOCGRAPH_METRICS_MAX_OPERATIONS`` per worker (``labels``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
    values,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docgraph.db.database import Database
from docgraph.errors import InvalidKey
from docgraph.http.paths import GRAPHQL_PATH
from docgraph.observability.labels import (
    OperationNames,
    graphql_operation,
    method_label,
    route_template,
)
from docgraph.resolvers.context import counting_statements

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# How often each worker writes down its pool's figures (the scraped one does at once).
POOL_SAMPLE_SECONDS = 1.0

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)
STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50)
SQL_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                       2.5)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

_REPLAYED_HEADER = b"idempotent-replayed"


def _use_multiprocess_values() -> None:
    """Make new metrics write to the multiprocess directory.

    prometheus-client picks where values live when it is first imported; a process
    that imported it before ``PROMETHEUS_MULTIPROC_DIR`` was set (``docgraph serve``
    with one worker builds the app in the process that set it) would keep them in
    memory, where no scrape of the directory finds them.
    """
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()


class Metrics:
    """Every metric of one app, and how they are read."""

    def __init__(self, *, max_operations: int, max_tokens: int | None = None,
                 multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.max_tokens = max_tokens
        self.operation_names = OperationNames(max_operations)
        registry: CollectorRegistry | None
        if multiprocess_dir is not None:
            _use_multiprocess_values()
            registry = None  # read from the directory (scrape_registry), not from here
        else:
            registry = CollectorRegistry()
        self.registry = registry
        self._databases: list[Database] = []

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, labels, registry=registry, multiprocess_mode="livesum")

        def histogram(name: str, doc: str, labels: tuple[str, ...],
                      buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, labels, registry=registry, buckets=buckets)

        request = ("method", "route", "operation")
        self.requests = counter(
            "docgraph_http_requests", "HTTP requests answered, by method, route template, "
            "GraphQL operation name (at /graphql) and status code.", (*request, "status"))
        self.request_seconds = histogram(
            "docgraph_http_request_duration_seconds", "Time from a request's arrival to the "
            "end of its response.", request, LATENCY_BUCKETS)
        self.request_statements = histogram(
            "docgraph_http_request_sql_statements", "SQL statements one request sent.",
            ("route", "operation"), STATEMENT_BUCKETS)
        self.request_sql_seconds = histogram(
            "docgraph_http_request_sql_duration_seconds", "Time one request's SQL statements "
            "took, added up.", ("route",), SQL_SECONDS_BUCKETS)
        self.rate_limit_refusals = counter(
            "docgraph_rate_limit_refusals", "Requests refused 429 rate_limited, by what was "
            "limited: an API key, or a client address (requests without a valid key).",
            ("limited_by",))
        self.idempotency_replays = counter(
            "docgraph_idempotency_replays", "Responses replayed for a retried Idempotency-Key.")

        self.pool_size = gauge("docgraph_db_pool_connections",
                               "Connections open in the workers' database pools.")
        self.pool_in_use = gauge("docgraph_db_pool_connections_in_use",
                                 "Pooled connections handed out.")
        self.pool_max = gauge("docgraph_db_pool_connections_max",
                              "Connections the pools may open (DOCGRAPH_DB_POOL_MAX per worker).")
        self.pool_waiting = gauge("docgraph_db_pool_waiting",
                                  "Callers waiting for a pooled connection.")

        self.admission_queue = gauge(
            "docgraph_admission_queue_length", "Requests waiting for their turn "
            "(DOCGRAPH_MAX_ACTIVE_REQUESTS are in progress).")
        self.admission_wait = histogram(
            "docgraph_admission_wait_seconds", "How long requests that found every turn "
            "taken waited before theirs.", (), LATENCY_BUCKETS)
        self.admission_refused = counter(
            "docgraph_admission_refused", "Requests that waited for a turn and never got one "
            "(503 after DOCGRAPH_QUEUE_TIMEOUT_SECONDS, or the client left).")

        self.jobs_queued = gauge("docgraph_jobs_queued",
                                 "Background jobs waiting for a slot, by kind.", ("kind",))
        self.jobs_running = gauge("docgraph_jobs_running", "Background jobs running, by kind.",
                                  ("kind",))
        self.jobs_finished = counter(
            "docgraph_jobs_finished", "Background jobs finished, by kind and outcome "
            "(succeeded, failed: it raised, cancelled: at shutdown).", ("kind", "outcome"))
        self.job_seconds = histogram("docgraph_job_duration_seconds",
                                     "Time background jobs ran, by kind.", ("kind",), JOB_BUCKETS)
        self.job_retries = counter(
            "docgraph_job_retries", "Tries of background work made again (a scan the scanner "
            "did not answer, a preview that failed), by kind.", ("kind",))

        self.storage_seconds = histogram(
            "docgraph_storage_call_duration_seconds", "Object-storage calls, by backend and "
            "operation (a read: until its last byte was taken).", ("backend", "operation"),
            LATENCY_BUCKETS)
        self.storage_errors = counter(
            "docgraph_storage_call_errors", "Object-storage calls that failed (unreachable, "
            "too slow, or an unexpected error; not a missing object), by backend and "
            "operation.", ("backend", "operation"))

    # -- requests ------------------------------------------------------------------

    def observe_request(self, scope: Scope, status: int, replayed: bool, seconds: float,
                        statements: int, sql_seconds: float) -> None:
        route = route_template(scope)
        # Only requests to the GraphQL endpoint have an operation.
        operation = self.operation_label(scope) if route == GRAPHQL_PATH else ""
        method = method_label(scope)
        self.requests.labels(method, route, operation, str(status)).inc()
        self.request_seconds.labels(method, route, operation).observe(seconds)
        self.request_statements.labels(route, operation).observe(statements)
        self.request_sql_seconds.labels(route).observe(sql_seconds)
        if status == 429:
            limited_by = "key" if scope.get("state", {}).get("principal") else "address"
            self.rate_limit_refusals.labels(limited_by).inc()
        if replayed:
            self.idempotency_replays.inc()

    def operation_label(self, scope: Scope) -> str:
        return self.operation_names.label(graphql_operation(scope, self.max_tokens))

    # -- the pool ------------------------------------------------------------------

    def watch_pool(self, db: Database) -> None:
        self._databases.append(db)

    def unwatch_pool(self, db: Database) -> None:
        with contextlib.suppress(ValueError):
            self._databases.remove(db)
        self.pool_size.set(0)
        self.pool_in_use.set(0)
        self.pool_max.set(0)
        self.pool_waiting.set(0)

    def sample_pool(self) -> None:
        """Write down the pool's figures now."""
        for db in self._databases:
            stats = db.stats()
            self.pool_size.set(stats.size)
            self.pool_in_use.set(stats.in_use)
            self.pool_max.set(stats.max_size)
            self.pool_waiting.set(stats.waiting)

    async def sample_pool_forever(self) -> None:
        while True:
            self.sample_pool()
            await asyncio.sleep(POOL_SAMPLE_SECONDS)

    # -- admission (an http.admission.AdmissionObserver) -------------------------------

    def queued(self) -> None:
        self.admission_queue.inc()

    def left_queue(self, waited: float, admitted: bool) -> None:
        self.admission_queue.dec()
        if admitted:
            self.admission_wait.observe(waited)
        else:
            self.admission_refused.inc()

    # -- reading them ----------------------------------------------------------------

    def scrape_registry(self) -> CollectorRegistry:
        """Where a scrape reads the metrics from: every worker's files, or this process."""
        if self.registry is not None:
            return self.registry
        assert self.multiprocess_dir is not None
        return multiprocess_registry(self.multiprocess_dir)

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format."""
        return generate_latest(self.scrape_registry())


class MetricsMiddleware:
    """Measures every request: its count, time, SQL, and what refused or replayed it.

    Installed outermost (only when metrics are on), so it sees the status every
    other layer settled on, CORS preflights and errors included.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response = [500, False]  # status, replayed

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                response[0] = message["status"]
                response[1] = any(name.lower() == _REPLAYED_HEADER
                                  for name, _ in message.get("headers", ()))
            await send(message)

        with counting_statements() as tally:
            try:
                await self.app(scope, receive, send_observed)
            finally:
                self.metrics.observe_request(
                    scope, int(response[0]), bool(response[1]), time.perf_counter() - started,
                    tally.count, tally.seconds)


def metrics_endpoint(metrics: Metrics, token: str) -> Callable[[Request], Any]:
    """``GET /metrics`` on the API's port: the exposition, for ``Bearer <token>`` only."""
    expected = f"Bearer {token}".encode("latin-1")

    async def endpoint(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode("latin-1")
        if not hmac.compare_digest(given, expected):
            raise InvalidKey("Scraping /metrics takes `Authorization: Bearer` with the "
                             "metrics token (DOCGRAPH_METRICS_TOKEN).",
                             headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        metrics.sample_pool()
        body = await asyncio.to_thread(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    return endpoint


# -- docgraph serve's side: the directory, dead workers, the metrics port --------------

def multiprocess_registry(directory: str | Path) -> CollectorRegistry:
    """A registry that reads every worker's values from ``directory``."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return registry


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[Path]:
    """The directory the workers of one ``docgraph serve`` write their metrics to.

    ``PROMETHEUS_MULTIPROC_DIR`` when it is set (its ``*.db`` files, left by an
    earlier run, are removed first), else a new temporary directory, removed at
    the end and named in ``PROMETHEUS_MULTIPROC_DIR`` for the workers to inherit.
    """
    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="docgraph-metrics-"))
    os.environ[MULTIPROCESS_ENV] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def worker_exited(pid: int, directory: str | Path) -> None:
    """Drop the gauges of a worker that has exited (its counters stay in the sums)."""
    multiprocess.mark_process_dead(pid, str(directory))


def serve_metrics_port(host: str, port: int, registry: CollectorRegistry) -> Callable[[], None]:
    """Serve ``registry`` at ``http://host:port/metrics`` from a thread; returns its stop."""
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
