"""OpenTelemetry tracing: off unless asked, and when on, one tree of spans per request.

The span tree of a GraphQL request is read from an in-process exporter; the
OTLP export of a real ``docgraph serve`` from a small OTLP/HTTP receiver of the
test's own; and "off" is checked where it matters: nothing installed.
"""

from __future__ import annotations

import http.server
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from docgraph.app import create_app
from docgraph.config import ConfigError
from docgraph.observability import Observability
from docgraph.observability.tracing import exporters_from_env
from docgraph.ops.embedded import free_port
from tests.conftest import LiveServer, make_settings, make_tenant
from tests.instances import Instance
from tests.rest import RestAPI, png
from tests.test_workers import until

REQUEST_ID = "docgraph.request_id"
DOCUMENT_WITH_LINKS = """
query DocumentWithLinks($id: ID!) {
  document(id: $id) { id name links { role entity { id name } } }
}
"""


def traceparent() -> tuple[str, str, str]:
    """A caller's ``traceparent``, its trace id and its span id (hex)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


@pytest.fixture
def traced(tmp_root, database_url) -> Iterator[tuple[LiveServer, InMemorySpanExporter]]:
    """The app with tracing on, its spans kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = make_settings(tmp_root)
    observability = Observability.from_settings(settings, {}, tracer_provider=provider)
    app = create_app(settings, database_url, observability=observability)
    live = LiveServer(app, settings.host, settings.port).start()
    try:
        yield live, exporter
    finally:
        live.stop()


def spans_of(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans()
            if s.context is not None and f"{s.context.trace_id:032x}" == trace_id]


def finished_request(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    """The trace's spans, once its server span has ended (after the response's last byte)."""
    until(lambda: any(s.kind is SpanKind.SERVER for s in spans_of(exporter, trace_id)),
          "the request's span ended")
    return spans_of(exporter, trace_id)


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.span_id:016x}"


def parent_id(span: ReadableSpan) -> str | None:
    return f"{span.parent.span_id:016x}" if span.parent is not None else None


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if parent_id(s) == span_id(parent)]


def below(spans: list[ReadableSpan], ancestor: ReadableSpan) -> list[ReadableSpan]:
    found = children(spans, ancestor)
    return found + [s for child in found for s in below(spans, child)]


def only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    named = [s for s in spans if s.name == name]
    assert len(named) == 1, [s.name for s in spans]
    return named[0]


def is_sql(span: ReadableSpan) -> bool:
    return "db.statement" in (span.attributes or {}) or "db.query.text" in (
        span.attributes or {})


def statement(span: ReadableSpan) -> str:
    """Which table a statement's span reads: ``from documents``."""
    attributes = span.attributes or {}
    text = " ".join(str(attributes.get("db.statement") or attributes.get("db.query.text") or "")
                    .lower().split())
    return next((f"from {word}" for before, word in zip(text.split(), text.split()[1:],
                                                         strict=False)
                 if before == "from"), text[:40])


async def test_a_graphql_request_is_one_tree_of_spans(traced, db):
    live, exporter = traced
    tenant = await make_tenant(db)
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        api = RestAPI(client, tenant)
        document = await api.create_document()
        contact = await api.create_contact("Grace Hopper")
        await api.link(document["id"], "contact", contact["id"], role="signer")

        incoming, trace_id, caller_span = traceparent()
        r = await client.post("/graphql", headers={**tenant.headers(), "traceparent": incoming},
                              json={"query": DOCUMENT_WITH_LINKS,
                                    "variables": {"id": document["id"]}})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert r.json()["data"]["document"]["links"][0]["entity"]["name"] == "Grace Hopper"
    request_id = r.headers["x-request-id"]
    spans = finished_request(exporter, trace_id)

    # The request: the caller's span is its parent; the response names it.
    server = only(spans, "POST /graphql")
    assert server.kind is SpanKind.SERVER
    assert parent_id(server) == caller_span
    assert r.headers["traceparent"].startswith(f"00-{trace_id}-{span_id(server)}-")
    attributes = server.attributes or {}
    assert attributes["http.route"] == "/graphql"
    assert attributes["http.response.status_code"] == 200
    assert attributes["http.request.method"] == "POST"
    assert attributes["docgraph.workspace_id"] == str(tenant.id)

    # The operation, below it the root field's resolver, below that the statement
    # that reads the document.
    operation = only(spans, "query DocumentWithLinks")
    assert parent_id(operation) == span_id(server)
    assert (operation.attributes or {})["graphql.operation.type"] == "query"
    assert (operation.attributes or {})["graphql.operation.name"] == "DocumentWithLinks"
    resolver = only(spans, "Query.document")
    assert parent_id(resolver) == span_id(operation)
    assert (resolver.attributes or {})["graphql.field.path"] == "document"
    assert [statement(s) for s in children(spans, resolver)] == ["from documents"]
    # The relations load in batches, under the operation: the links, then their entities.
    assert sorted(statement(s) for s in children(spans, operation) if is_sql(s)) == [
        "from entities", "from links"]
    # Authentication and the rate limit's statements belong to the request, not the operation.
    assert any(is_sql(s) for s in children(spans, server))
    # No span for plain fields: only the request, the operation, one resolver, statements.
    assert {s.name for s in spans if not is_sql(s)} == {
        "POST /graphql", "query DocumentWithLinks", "Query.document"}
    # Every span carries the request id.
    assert {(s.attributes or {}).get(REQUEST_ID) for s in spans} == {request_id}
    assert all(s.context is not None and f"{s.context.trace_id:032x}" == trace_id
               for s in spans)


async def test_storage_calls_and_background_jobs_have_spans_with_the_request_id(traced, db):
    live, exporter = traced
    tenant = await make_tenant(db)
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        api = RestAPI(client, tenant)
        ticket = await api.upload(png(40, 30), file_name="photo.png", mime_type="image/png")
        incoming, trace_id, _ = traceparent()
        r = await api.post("/v1/documents", headers={"traceparent": incoming}, json={
            "name": "photo.png", "mime_type": "image/png",
            "storage_path": ticket["storage_path"]})
    assert r.status_code == 201, r.text
    request_id = r.headers["x-request-id"]
    # The preview job ends after the response: wait for its span.
    until(lambda: any(s.name == "job preview" for s in spans_of(exporter, trace_id)),
          "the preview job's span")
    spans = spans_of(exporter, trace_id)
    server = only(spans, "POST /v1/documents")
    job = only(spans, "job preview")
    assert parent_id(job) == span_id(server)  # started by that request
    assert (job.attributes or {})["docgraph.job.kind"] == "preview"
    storage = [s for s in spans if s.name.startswith("storage ")]
    assert {"storage stat", "storage write"} <= {s.name for s in storage}, [
        s.name for s in spans]
    assert all((s.attributes or {})["docgraph.storage.backend"] == "local" for s in storage)
    assert any(s in below(spans, job) for s in storage)  # the preview reads and writes
    assert {(s.attributes or {}).get(REQUEST_ID) for s in spans} == {request_id}


async def test_a_request_without_traceparent_starts_a_trace_and_says_which(traced, tenant):
    live, exporter = traced
    async with httpx.AsyncClient(base_url=live.url) as client:
        r = await client.get("/v1/workspace", headers=tenant.headers())
        bad = await client.get("/v1/workspace", headers={**tenant.headers(),
                                                         "traceparent": "00-garbage"})
        refused = await client.get("/v1/workspace")
    for response in (r, bad, refused):
        version, trace_id, parent, flags = response.headers["traceparent"].split("-")
        assert version == "00" and int(flags, 16) & 1 and len(trace_id) == 32  # sampled
        spans = finished_request(exporter, trace_id)
        server = next(s for s in spans if s.kind is SpanKind.SERVER)
        assert server.parent is None
        assert span_id(server) == parent
        assert server.name == "GET /v1/workspace"
        assert (server.attributes or {})[REQUEST_ID] == response.headers["x-request-id"]
    assert refused.status_code == 401


def test_off_by_default_and_nothing_is_installed(tmp_root, database_url):
    import asyncpg.connection

    settings = make_settings(tmp_root)
    observability = Observability.from_settings(settings, {})
    assert observability.enabled is False
    assert observability.middleware() == [] and observability.routes() == []
    assert observability.jobs is None and observability.admission is None
    app = create_app(settings, database_url, observability=observability)
    layers = {m.cls.__name__ for m in app.user_middleware}  # type: ignore[attr-defined]
    assert not layers & {"TracingMiddleware", "MetricsMiddleware"}
    store = app.state.store
    assert not {"stat", "read", "write"} & set(vars(store))  # the class's own methods
    graphql = next(r for r in app.routes if getattr(r, "path", None) == "/graphql")
    assert type(graphql.app).__name__ != "TracedGraphQL"  # type: ignore[attr-defined]
    fields = graphql.app.schema._schema.query_type.fields  # type: ignore[attr-defined]
    assert not hasattr(fields["document"].resolve, "_docgraph_traced")
    # The driver is not patched (opentelemetry's wrappers are wrapt proxies).
    assert not hasattr(asyncpg.connection.Connection.fetch, "__wrapped__")


@pytest.mark.parametrize(("environ", "exporters"), [
    ({}, []),
    ({"OTEL_SERVICE_NAME": "docgraph"}, []),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["otlp"]),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, ["otlp"]),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp"]),
    ({"OTEL_TRACES_EXPORTER": "console,otlp"}, ["console", "otlp"]),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, []),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
])
def test_the_standard_variables_turn_tracing_on(environ, exporters):
    assert exporters_from_env(environ) == exporters


def test_malformed_tracing_variables_stop_start_up(tmp_root, database_url):
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER"):
        exporters_from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        Observability.from_settings(make_settings(tmp_root), {
            "OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"})
    instance = Instance(database_url, tmp_root, OTEL_TRACES_EXPORTER="zipkin")
    instance.launch()
    assert instance.process is not None
    assert instance.process.wait(timeout=60) == 1  # a usage error: nothing started
    assert "OTEL_TRACES_EXPORTER is malformed" in instance.log()


class _Receiver(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP collector's traces endpoint: keeps what it is sent."""

    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_docgraph_serve_exports_its_spans_over_otlp(database_url, tmp_root, collector):
    endpoint, received = collector
    instance = Instance(database_url, tmp_root, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                        OTEL_SERVICE_NAME="docgraph-under-test", OTEL_BSP_SCHEDULE_DELAY="50",
                        DOCGRAPH_WORKERS="2").start()
    try:
        incoming, trace_id, caller_span = traceparent()
        r = httpx.get(instance.url + "/readyz", headers={"traceparent": incoming})
        assert r.status_code == 200
        assert r.headers["traceparent"].startswith(f"00-{trace_id}-")

        def exported() -> list[Any]:
            return [(resource.resource, span) for request in list(received)
                    for resource in request.resource_spans
                    for scope in resource.scope_spans for span in scope.spans
                    if span.trace_id.hex() == trace_id]

        until(lambda: any(span.name == "GET /readyz" for _, span in exported()),
              "the request's span at the collector")
        spans = exported()
        resource, server = next((res, s) for res, s in spans if s.name == "GET /readyz")
        assert server.parent_span_id.hex() == caller_span
        attributes = {a.key: a.value.string_value for a in resource.attributes}
        assert attributes["service.name"] == "docgraph-under-test"
        request_ids = {a.value.string_value for _, s in spans for a in s.attributes
                       if a.key == REQUEST_ID}
        assert request_ids == {r.headers["x-request-id"]}
        assert any(s.name != "GET /readyz" for _, s in spans)  # its statement's span
    finally:
        instance.stop()
