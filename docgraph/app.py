"""The Starlette application: middleware, routes and their shared resources."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from docgraph import auth, graphiql, maintenance, rest
from docgraph.admission import AdmissionMiddleware
from docgraph.auth import KeyVerifier, Principal
from docgraph.background import BackgroundJobs
from docgraph.bodies import BodyLimitMiddleware
from docgraph.config import Settings
from docgraph.cors import CORSMiddleware
from docgraph.db import workspaces
from docgraph.db.database import Database, ping
from docgraph.errors import AppError, MethodNotAllowed, NotFound
from docgraph.graphql_http import GraphQLApp
from docgraph.idempotency import IdempotencyMiddleware
from docgraph.middleware import AuthMiddleware, RequestIdMiddleware, StatementCountMiddleware
from docgraph.ratelimit import RateLimitMiddleware
from docgraph.resolvers.sweeper import background_maintenance
from docgraph.responses import JSONResponse, error_response
from docgraph.schema import build_schema
from docgraph.storage.factory import build_store
from docgraph.storage.http import is_storage_path, storage_object

log = logging.getLogger("docgraph.app")

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
# The cyclic collector's thresholds once serving. A request's objects are freed by
# reference counting (tests/test_request_garbage.py), but at Python's default of
# 700 net allocations the collector still ran several times per request, each time
# rescanning every in-flight request's rows: a tenth of a worker's CPU, and pauses
# of up to 20 ms under load. Cycles from elsewhere (error paths) still get collected.
GC_THRESHOLDS = (50_000, 20, 100)
# Probes of load balancers and orchestrators: never rate limited.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})
GRAPHQL_PATH = "/graphql"


def is_public(method: str, path: str) -> bool:
    """Paths that need no API key: health checks, signed storage URLs (the signature is
    the credential), GraphiQL's page and assets and the REST API's OpenAPI document
    (they hold no data).

    Operations are only run by POST /graphql, which always needs a key.
    """
    if path in PUBLIC_PATHS or is_storage_path(path):
        return True
    return method in ("GET", "HEAD") and (
        path in ("/graphql", rest.OPENAPI_PATH) or path.startswith(graphiql.ASSETS_URL + "/"))


def principal_of(request: Request) -> Principal:
    return request.state.principal


async def healthz(request: Request) -> Response:
    """The process is alive and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers: this instance can serve traffic."""
    if await ping(request.app.state.db):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "unavailable", "reason": "database unreachable"},
                        status_code=503, headers={"Retry-After": "2"})


async def current_workspace(request: Request) -> Response:
    """The caller's workspace and storage usage, and the key's scopes."""
    principal = principal_of(request)
    principal.require(auth.READ_DOCUMENTS)
    workspace = await workspaces.get_workspace(request.app.state.db, principal.workspace_id)
    if workspace is None:
        raise NotFound("Workspace not found.")
    return JSONResponse({"data": {
        "id": str(workspace["id"]),
        "name": workspace["name"],
        "quota_bytes": workspace["quota_bytes"],
        "used_bytes": workspace["used_bytes"],
        "created_at": workspace["created_at"],
        "key": {"id": str(principal.key_id), "scopes": sorted(principal.scopes)},
    }})


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(exc, request.state.request_id)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: AppError
    if exc.status_code == 405:
        error = MethodNotAllowed(headers=dict(exc.headers or {}))
    elif exc.status_code == 404:
        error = NotFound("No such path.")
    else:
        error = AppError(exc.detail)
        error.status = exc.status_code
    return error_response(error, request.state.request_id)


def create_app(settings: Settings, database_url: str) -> Starlette:
    """Build the app; its lifespan opens the database pool and closes it.

    The object store is built here (no network call). The lifespan runs its
    maintenance in the background (readiness, creating the bucket when
    missing, then the periodic sweep), so the app starts even while storage
    is down: metadata reads do not need it.
    """
    store = build_store(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = await Database.connect(
            database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            acquire_timeout=settings.db_acquire_timeout,
            statement_timeout_ms=settings.db_statement_timeout_ms,
        )
        app.state.db = db
        app.state.key_verifier = KeyVerifier(db, settings.key_cache_seconds)
        app.state.jobs = BackgroundJobs()
        # Everything built so far (schema, caches, modules) lives as long as the
        # process: move it out of the cyclic collector's generations, so that
        # collections triggered by requests' short-lived objects stop rescanning it.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        purging = asyncio.create_task(
            maintenance.purge_periodically(db, settings.purge_interval_seconds),
            name="purge-expired")
        try:
            async with background_maintenance(db, store, settings):
                yield
        finally:
            purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purging
            await app.state.jobs.aclose()
            await store.close()
            await db.close()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/v1/workspace", current_workspace, methods=["GET"]),
        Route("/storage/{key:path}", storage_object, methods=["GET", "PUT"]),
        Route("/graphql", GraphQLApp(build_schema(settings), settings)),
        *rest.routes(),
    ]
    if settings.graphql_graphiql:
        routes.append(Mount(graphiql.ASSETS_URL,
                            app=StaticFiles(directory=graphiql.ASSETS_DIR)))
    # Outermost first. The rate limiter runs before the body limit and the
    # authentication answer so that their 413 and 401 carry the rate-limit
    # headers (it identifies the key itself, through the same cached verifier).
    # A request waits for its turn in the worker (admission) before anything
    # touches the database, inside CORS so that a 503 from the queue is readable.
    middleware = [Middleware(RequestIdMiddleware, log_requests=settings.access_log)]
    if settings.cors_origins:
        middleware.append(Middleware(CORSMiddleware, origins=settings.cors_origins))
    if settings.max_active_requests:
        middleware.append(Middleware(AdmissionMiddleware, limit=settings.max_active_requests,
                                     queue_timeout=settings.queue_timeout_seconds,
                                     exempt_paths=UNLIMITED_PATHS))
    if settings.expose_statement_count:
        middleware.append(Middleware(StatementCountMiddleware))
    middleware += [
        Middleware(RateLimitMiddleware, is_public=is_public, unlimited_paths=UNLIMITED_PATHS,
                   key_limit=settings.rate_limit, address_limit=settings.address_rate_limit,
                   window_seconds=settings.rate_limit_window_seconds,
                   graphql_path=GRAPHQL_PATH,
                   graphql_max_body_bytes=settings.graphql_max_body_bytes,
                   graphql_max_root_fields=settings.graphql_max_root_fields,
                   graphql_max_tokens=settings.graphql_max_tokens),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                   path_limits={GRAPHQL_PATH: settings.graphql_max_body_bytes}),
        Middleware(AuthMiddleware, is_public=is_public),
        Middleware(IdempotencyMiddleware, lease_seconds=settings.idempotency_lease_seconds,
                   retention_seconds=settings.idempotency_retention_seconds),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={AppError: app_error, HTTPException: http_error},
    )
    app.state.settings = settings
    app.state.store = store
    return app
