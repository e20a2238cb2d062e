"""The Starlette application: the process's services, the routes, the HTTP pipeline."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from docgraph import rest
from docgraph.config import Settings
from docgraph.db.database import Database
from docgraph.http import cors
from docgraph.http.admission import AdmissionMiddleware
from docgraph.http.authentication import AuthMiddleware
from docgraph.http.bodies import BodyLimitMiddleware
from docgraph.http.errors import EXCEPTION_HANDLERS
from docgraph.http.health import healthz, readyz
from docgraph.http.idempotency import IdempotencyMiddleware
from docgraph.http.paths import (
    GRAPHIQL_ASSETS_PATH,
    GRAPHQL_PATH,
    PROBE_PATHS,
    STORAGE_PREFIX,
    is_public,
)
from docgraph.http.rate_limits import RateLimitMiddleware
from docgraph.http.request_id import RequestIdMiddleware
from docgraph.http.statements import StatementCountMiddleware
from docgraph.http.storage import storage_object
from docgraph.jobs.maintenance import housekeeping
from docgraph.jobs.runner import BackgroundJobs
from docgraph.observability import Observability
from docgraph.resolvers.auth import KeyVerifier
from docgraph.resolvers.context import Services
from docgraph.resolvers.rate_limits import RateLimiter
from docgraph.resolvers.subscriptions import EventHub
from docgraph.resolvers.texts import TEXT_LANE
from docgraph.scanning.factory import build_scanner
from docgraph.schema import cost, graphiql
from docgraph.schema.persisted import trusted_operation_names
from docgraph.schema.view import graphql_app
from docgraph.schema.websocket import GraphQLWebSocket
from docgraph.storage.factory import build_store

log = logging.getLogger("docgraph.app")

# The cyclic collector's thresholds once serving. A request's objects are freed by
# reference counting (tests/test_request_garbage.py), but at Python's default of
# 700 net allocations the collector still ran several times per request, each time
# rescanning every in-flight request's rows: a tenth of a worker's CPU, and pauses
# of up to 20 ms under load. Cycles from elsewhere (error paths) still get collected.
GC_THRESHOLDS = (50_000, 20, 100)


def create_app(settings: Settings, database_url: str, *,
               graphiql_dev_key: str | None = None,
               observability: Observability | None = None) -> Starlette:
    """Build the app; its lifespan opens the database pool and closes it.

    ``graphiql_dev_key``: ``docgraph dev``'s key, put in GraphiQL's headers for
    browsers on this machine (``docgraph serve`` never passes one).

    The object store and the scanner are built here (no network call), and the
    GraphQL app with the manifest of trusted documents, if any (a bad one:
    ``ConfigError``). The lifespan runs the housekeeping in the background
    (readiness, creating the bucket when missing, the periodic sweep and purge,
    and scans due), so the app starts even while storage or the scanner is down:
    metadata reads need neither.

    ``observability``: what is measured (default: as the settings and the ``OTEL_*``
    variables say); when it is off, nothing of it is installed.
    """
    observe = observability or Observability.from_settings(settings)
    store = build_store(settings, local_route=STORAGE_PREFIX)
    observe.instrument_store(store)
    scanner = build_scanner(settings)
    # Built first: a bad manifest of trusted documents stops the app here (ConfigError).
    graphql = graphql_app(settings, graphiql_dev_key)
    if observe.metrics is not None and graphql.operations is not None:
        # A manifest's operations are known ahead: each keeps a metrics label of its own.
        observe.metrics.operation_names.reserve(
            trusted_operation_names(graphql.operations, graphql.schema))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = await Database.connect(
            database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            acquire_timeout=settings.db_acquire_timeout,
            statement_timeout_ms=settings.db_statement_timeout_ms,
        )
        jobs = BackgroundJobs(lanes={TEXT_LANE: settings.text_jobs}, observer=observe.jobs)
        limiter = RateLimiter(db, lease=settings.rate_limit_lease,
                              window_seconds=settings.rate_limit_window_seconds)
        # Subscriptions' wake-ups: one listening connection (its own, not the pool's);
        # their reads take at most half the pool.
        hub = None
        if settings.subscriptions_per_process:
            hub = EventHub(database_url, max_subscriptions=settings.subscriptions_per_process,
                           concurrent_reads=max(1, settings.db_pool_max // 2))
            hub.start()
        app.state.services = services = Services(
            db=db, store=store, jobs=jobs, settings=settings,
            keys=KeyVerifier(db, settings.key_cache_seconds), rate_limits=limiter,
            scanner=scanner, events=hub)
        # Everything built so far (schema, caches, modules) lives as long as the
        # process: move it out of the cyclic collector's generations, so that
        # collections triggered by requests' short-lived objects stop rescanning it.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            # Observed until the jobs are cancelled: their last spans and counts go out.
            async with observe.running(db):
                try:
                    async with housekeeping(services, observe.jobs):
                        yield
                finally:
                    await jobs.aclose()
                    # Served its last request: what its leases hold goes back to their
                    # windows.
                    await limiter.give_back()
        finally:
            if hub is not None:
                await hub.aclose()
            await store.close()
            await db.close()

    routes: list[BaseRoute] = [
        Route(GRAPHQL_PATH, observe.graphql(graphql)),  # (first: the most requests)
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route(STORAGE_PREFIX + "{key:path}", storage_object, methods=["GET", "PUT"]),
        *observe.routes(),
        *rest.routes(),
    ]
    if settings.subscriptions_per_process:
        # The same path over WebSocket: subscriptions (graphql-transport-ws).
        routes.append(WebSocketRoute(GRAPHQL_PATH, GraphQLWebSocket(
            graphql.schema, settings, graphql.operations)))
    if settings.serves_graphiql:
        routes.append(Mount(GRAPHIQL_ASSETS_PATH,
                            app=StaticFiles(directory=graphiql.ASSETS_DIR)))
    # Outermost first. CORS wraps everything, the request id layer included: that
    # layer renders the errors raised below it (a 429, the queue's 503), and only
    # a layer outside it can add the CORS headers that let a page read them.
    # The rate limiter runs before the body limit and the authentication answer
    # so that their 413 and 401 carry the rate-limit headers (it identifies the
    # key itself, through the same cached verifier).
    # A request waits for its turn in the worker (admission) before anything
    # touches the database. Tracing and metrics (when on) wrap all of it: they see
    # preflights, refusals and errors as the client does.
    middleware: list[Middleware] = observe.middleware()
    if settings.cors_origins:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=settings.cors_origins,
            allow_methods=cors.ALLOWED_METHODS, allow_headers=cors.ALLOWED_HEADERS,
            expose_headers=cors.EXPOSED_HEADERS, max_age=cors.PREFLIGHT_MAX_AGE,
            allow_credentials=False))
    middleware.append(Middleware(RequestIdMiddleware, log_requests=settings.access_log))
    if settings.max_active_requests:
        middleware.append(Middleware(AdmissionMiddleware, limit=settings.max_active_requests,
                                     queue_timeout=settings.queue_timeout_seconds,
                                     exempt_paths=PROBE_PATHS, observer=observe.admission))
    if settings.expose_statement_count:
        middleware.append(Middleware(StatementCountMiddleware))
    middleware += [
        Middleware(RateLimitMiddleware, is_public=is_public, unlimited_paths=PROBE_PATHS,
                   key_limit=settings.rate_limit, address_limit=settings.address_rate_limit,
                   pricing={GRAPHQL_PATH: cost.pricing(
                       max_body_bytes=settings.graphql_max_body_bytes,
                       max_root_fields=settings.graphql_max_root_fields,
                       max_tokens=settings.graphql_max_tokens,
                       operations=graphql.operations)}),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                   path_limits={GRAPHQL_PATH: settings.graphql_max_body_bytes}),
        Middleware(AuthMiddleware, is_public=is_public),
        Middleware(IdempotencyMiddleware, lease_seconds=settings.idempotency_lease_seconds,
                   retention_seconds=settings.idempotency_retention_seconds),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware,
                    exception_handlers=EXCEPTION_HANDLERS)
    app.state.settings = settings
    app.state.store = store
    app.state.observability = observe
    return app
