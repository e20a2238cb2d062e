"""OpenTelemetry tracing, off unless the standard ``OTEL_*`` variables ask for it.

On (:func:`tracer_provider_from_env`), every request has a tree of spans:

* the HTTP request (``GET /v1/documents/{id}``: a server span, its parent the
  caller's W3C ``traceparent`` when it sent one; the response carries the
  span's own ``traceparent``, so the caller can find the trace);
* at ``/graphql``, the operation (``query GetDocument``) and below it each root
  field's resolver (``Query.document``), which is where the database is
  reached (relations load in batches, their statements sit under the operation);
  no span for plain fields;
* each SQL statement (opentelemetry-instrumentation-asyncpg), each
  object-storage call (``storage.instrument_store``), each background job
  (``jobs``: a child of the request that started it).

Every span started while a request is served carries its request id
(``docgraph.request_id``, the ``X-Request-ID`` of the response), background
jobs' spans too.

Off, nothing here is installed: no middleware, no wrapped resolver, no patched
driver. The decision is made once, when the app is built.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docgraph.config import ConfigError
from docgraph.http.graphql import asks_to_run
from docgraph.logs import request_id_var
from docgraph.observability.labels import graphql_operation, route_template

TRACER_NAME = "docgraph"
REQUEST_ID_ATTRIBUTE = "docgraph.request_id"
WORKSPACE_ATTRIBUTE = "docgraph.workspace_id"
EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("http/protobuf", "grpc")

_TRUE = frozenset({"true", "1", "yes", "on"})
_traceparent = TraceContextTextMapPropagator()


def _version() -> str:
    try:
        return importlib.metadata.version("docgraph")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# -- turning it on -------------------------------------------------------------------

def exporters_from_env(environ: Mapping[str, str]) -> list[str]:
    """The span exporters the environment asks for (none: tracing is off).

    ``OTEL_TRACES_EXPORTER`` names them (``otlp``, ``console``; ``none``). Unset, an
    OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``…_TRACES_ENDPOINT``) asks
    for ``otlp``; with neither, tracing is off (the SDK's own default would be
    ``otlp`` to localhost: not here). ``OTEL_SDK_DISABLED=true`` turns it off.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return []
    named = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")
             if name.strip()]
    if not named:
        endpoint = (environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                    or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
        return ["otlp"] if endpoint and endpoint.strip() else []
    unknown = [name for name in named if name not in EXPORTERS]
    if unknown:
        raise ConfigError(f"OTEL_TRACES_EXPORTER is malformed: unknown exporter {unknown[0]!r} "
                          f"(expected {', '.join(EXPORTERS)})")
    return [name for name in named if name != "none"]


def _protocol(environ: Mapping[str, str]) -> str:
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip()
    if protocol not in PROTOCOLS:
        raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL is malformed: {protocol!r} (expected "
                          f"{' or '.join(PROTOCOLS)})")
    return protocol


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    # The exporters read their own OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout…).
    if _protocol(environ) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )
        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )
    return HttpExporter()


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse malformed ``OTEL_*`` tracing variables (``ConfigError``), building nothing."""
    if "otlp" in exporters_from_env(environ):
        _protocol(environ)


def tracer_provider_from_env(environ: Mapping[str, str]) -> TracerProvider | None:
    """A tracer provider exporting as the ``OTEL_*`` variables say, or None (off).

    The SDK reads the rest itself: ``OTEL_SERVICE_NAME`` (default ``docgraph``) and
    ``OTEL_RESOURCE_ATTRIBUTES``, the sampler (``OTEL_TRACES_SAMPLER``, ``…_ARG``;
    a sampled ``traceparent`` from the caller is honoured), the batch processor
    (``OTEL_BSP_*``), and each OTLP exporter its endpoint, headers and timeout.
    """
    names = exporters_from_env(environ)
    if not names:
        return None
    provider = TracerProvider(resource=Resource.create({
        "service.name": environ.get("OTEL_SERVICE_NAME") or "docgraph",
        "service.version": _version()}))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, environ)))
    return provider


class RequestIdSpanProcessor(SpanProcessor):
    """Puts the request id of the request being served on every span it starts."""

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        request_id = request_id_var.get()
        if request_id is not None:
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)

    def on_end(self, span: ReadableSpan) -> None:
        pass


class Tracing:
    """One app's tracer, and the instrumentation it installs while the app runs."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        # Sets the attribute when a span starts: exporters see it when the span ends.
        provider.add_span_processor(RequestIdSpanProcessor())
        self.tracer: Tracer = provider.get_tracer(TRACER_NAME, _version())
        self._instrumented_asyncpg = False

    def start(self) -> None:
        """Instrument asyncpg (every statement a span), unless something else has."""
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        instrumentor = AsyncPGInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=self.provider)
            self._instrumented_asyncpg = True

    def stop(self) -> None:
        """Undo ``start``, and send the spans still buffered."""
        if self._instrumented_asyncpg:
            from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

            AsyncPGInstrumentor().uninstrument()
            self._instrumented_asyncpg = False
        self.provider.shutdown()

    @contextlib.contextmanager
    def job(self, kind: str) -> Iterator[None]:
        """A background job's span (a child of the request that started it, if any)."""
        with self.tracer.start_as_current_span(f"job {kind}",
                                               attributes={"docgraph.job.kind": kind}):
            yield


# -- the HTTP request -------------------------------------------------------------------

def _carrier(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"] if name in (b"traceparent", b"tracestate",
                                                             b"baggage")}


class TracingMiddleware:
    """The request's server span; the caller's ``traceparent`` in, the span's out."""

    def __init__(self, app: ASGIApp, *, tracing: Tracing) -> None:
        self.app = app
        self.tracer = tracing.tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        attributes: dict[str, Any] = {"http.request.method": method,
                                      "url.path": scope["path"],
                                      "url.scheme": scope.get("scheme", "http")}
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        for name, value in scope["headers"]:
            if name == b"user-agent":
                attributes["user_agent.original"] = value.decode("latin-1")
        parent = propagate.extract(_carrier(scope))
        with self.tracer.start_as_current_span(
                method, context=parent, kind=SpanKind.SERVER, attributes=attributes,
                record_exception=False, set_status_on_exception=False) as span:
            status = 500
            server_context = trace.set_span_in_context(span)

            async def send_traced(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    outgoing: dict[str, str] = {}
                    _traceparent.inject(outgoing, context=server_context)
                    if "traceparent" in outgoing:
                        MutableHeaders(scope=message)["traceparent"] = outgoing["traceparent"]
                await send(message)

            try:
                await self.app(scope, receive, send_traced)
            finally:
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                state = scope.get("state") or {}
                if state.get("request_id"):
                    span.set_attribute(REQUEST_ID_ATTRIBUTE, state["request_id"])
                principal = state.get("principal")
                if principal is not None:
                    span.set_attribute(WORKSPACE_ATTRIBUTE, str(principal.workspace_id))
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


# -- GraphQL ------------------------------------------------------------------------------

class TracedGraphQL:
    """The GraphQL endpoint with a span for the operation it runs (``query GetDocument``)."""

    def __init__(self, app: ASGIApp, *, tracing: Tracing, max_tokens: int | None) -> None:
        self.app = app
        self.tracer = tracing.tracer
        self.max_tokens = max_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "POST") or (scope["method"] == "GET"
                                                       and not asks_to_run(scope)):
            await self.app(scope, receive, send)  # GraphiQL's page, a wrong method
            return
        with self.tracer.start_as_current_span("graphql") as span:
            try:
                await self.app(scope, receive, send)
            finally:
                operation = graphql_operation(scope, self.max_tokens)
                if operation is not None:
                    span.set_attribute("graphql.operation.type", operation.type)
                    if operation.name is not None:
                        span.set_attribute("graphql.operation.name", operation.name)
                    span.update_name(" ".join(filter(None, (operation.type, operation.name))))


def _traced_resolver(tracer: Tracer, type_name: str, field_name: str,
                     resolve: Callable[..., Any]) -> Callable[..., Any]:
    span_name = f"{type_name}.{field_name}"

    async def traced(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        with tracer.start_as_current_span(span_name, attributes={
                "graphql.field.name": field_name, "graphql.field.parent_type": type_name,
                "graphql.field.path": ".".join(str(key) for key in info.path.as_list())}):
            result = resolve(source, info, **args)
            if inspect.isawaitable(result):
                result = await result
            return result

    traced._docgraph_traced = True  # type: ignore[attr-defined]
    return traced


def trace_root_resolvers(schema: GraphQLSchema, tracing: Tracing) -> None:
    """A span for each root field's resolver (every query and mutation field: where the
    database is reached). Both executors call the field's ``resolve``: wrapped here,
    before either has planned or run anything."""
    for root in (schema.query_type, schema.mutation_type):
        if not isinstance(root, GraphQLObjectType):
            continue
        for name, field in root.fields.items():
            if field.resolve is not None and not hasattr(field.resolve, "_docgraph_traced"):
                field.resolve = _traced_resolver(tracing.tracer, root.name, name, field.resolve)
