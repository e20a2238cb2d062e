"""Observability: Prometheus metrics and OpenTelemetry traces, installed only when on.

The composition roots (``app``, ``ops``) ask :class:`Observability` what to
install, once, when the app is built: middleware, the ``/metrics`` route, the
GraphQL endpoint's operation span and root resolvers' spans, timed storage
calls, observers for the admission queue and background jobs, and (while the
app runs) the pool's sampler and asyncpg's instrumentation. With metrics and
tracing both off, every answer is "nothing": no layer carries a wrapper or a
hook, and a request takes the same path as without this package.

It reaches into the layers it measures (``db``, ``storage``, ``resolvers``,
``http``, ``schema``) from outside; nothing but the composition roots imports
it (``tests/test_architecture.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from docgraph.config import Settings
from docgraph.db.database import Database
from docgraph.http.paths import METRICS_PATH
from docgraph.observability.jobs import JobsObserver
from docgraph.observability.metrics import (
    MULTIPROCESS_ENV,
    Metrics,
    MetricsMiddleware,
    metrics_endpoint,
)
from docgraph.observability.storage import instrument_store
from docgraph.storage.base import ObjectStore

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from docgraph.observability.tracing import Tracing
    from docgraph.schema.view import GraphQLApp

__all__ = ["Observability"]


class Observability:
    """What one app measures: its metrics (or None) and its tracing (or None)."""

    def __init__(self, settings: Settings, *, metrics: Metrics | None = None,
                 tracing: Tracing | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.tracing = tracing
        self.jobs = JobsObserver(metrics, tracing) if metrics or tracing else None

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str] | None = None,
                      *, tracer_provider: TracerProvider | None = None) -> Observability:
        """Metrics when they can be read (``DOCGRAPH_METRICS_TOKEN`` or ``…_PORT``);
        tracing when the ``OTEL_*`` variables of ``environ`` (default ``os.environ``) ask
        for it, or with ``tracer_provider`` (tests: an in-memory exporter)."""
        env = os.environ if environ is None else environ
        metrics = None
        if settings.metrics_enabled:
            metrics = Metrics(max_operations=settings.metrics_max_operations,
                              max_tokens=settings.graphql_max_tokens,
                              multiprocess_dir=env.get(MULTIPROCESS_ENV) or None)
        tracing = None
        if tracer_provider is None:
            from docgraph.observability.tracing import exporters_from_env

            if exporters_from_env(env):
                from docgraph.observability.tracing import tracer_provider_from_env

                tracer_provider = tracer_provider_from_env(env)
        if tracer_provider is not None:
            from docgraph.observability.tracing import Tracing

            tracing = Tracing(tracer_provider)
        return cls(settings, metrics=metrics, tracing=tracing)

    @property
    def enabled(self) -> bool:
        return self.metrics is not None or self.tracing is not None

    # -- what the app installs ----------------------------------------------------------

    def middleware(self) -> list[Middleware]:
        """The outermost layers, outermost first: the request's span, then its metrics."""
        layers = []
        if self.tracing is not None:
            from docgraph.observability.tracing import TracingMiddleware

            layers.append(Middleware(TracingMiddleware, tracing=self.tracing))
        if self.metrics is not None:
            layers.append(Middleware(MetricsMiddleware, metrics=self.metrics))
        return layers

    def routes(self) -> list[BaseRoute]:
        """``/metrics`` on the API's port, with the metrics token only."""
        if self.metrics is None or self.settings.metrics_token is None:
            return []
        return [Route(METRICS_PATH, metrics_endpoint(self.metrics, self.settings.metrics_token),
                      methods=["GET"])]

    def graphql(self, app: GraphQLApp) -> ASGIApp:
        """The GraphQL endpoint: traced (the operation, its root resolvers), or ``app``."""
        if self.tracing is None:
            return app
        from docgraph.observability.tracing import TracedGraphQL, trace_root_resolvers

        trace_root_resolvers(app.schema._schema, self.tracing)
        return TracedGraphQL(app, tracing=self.tracing, max_tokens=app.schema.max_tokens)

    def instrument_store(self, store: ObjectStore) -> None:
        instrument_store(store, self.metrics,
                         self.tracing.tracer if self.tracing is not None else None)

    @property
    def admission(self) -> Metrics | None:
        """The admission queue's observer (``http.admission.AdmissionObserver``)."""
        return self.metrics

    @contextlib.asynccontextmanager
    async def running(self, db: Database) -> AsyncIterator[None]:
        """While the app runs: the pool's sampler, asyncpg's spans; the last spans sent."""
        sampler = None
        if self.metrics is not None:
            self.metrics.watch_pool(db)
            sampler = asyncio.create_task(self.metrics.sample_pool_forever(),
                                          name="metrics-pool-sampler")
        if self.tracing is not None:
            self.tracing.start()
        try:
            yield
        finally:
            if sampler is not None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            if self.metrics is not None:
                self.metrics.unwatch_pool(db)
            if self.tracing is not None:
                await asyncio.to_thread(self.tracing.stop)
