"""``/graphql`` over HTTP: POST runs operations, GET serves GraphiQL.

* POST needs an API key (AuthMiddleware); one operation per request
  (batching is off), JSON in, JSON out (orjson), bodies above
  ``DOCGRAPH_GRAPHQL_MAX_BODY_BYTES`` refused with 413.
* GET serves the GraphiQL page (no key needed: it holds no data) when
  ``DOCGRAPH_GRAPHQL_GRAPHIQL`` is on. Operations are never run over GET,
  so a key is always needed to read anything.
* Errors of the HTTP request itself (bad JSON, wrong method or content
  type) use the REST error body; errors of an operation are GraphQL
  errors in a 200 response, each with ``extensions.code``. When one asks
  to retry later (``unavailable``), the response carries ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from docgraph.config import Settings
from docgraph.errors import AppError, MethodNotAllowed, NotFound, PayloadTooLarge, ValidationError
from docgraph.http.context import request_context
from docgraph.resolvers.context import RequestContext
from docgraph.schema import DocgraphSchema, graphiql
from docgraph.schema.errors import formatted, retry_after


class GraphQLApp(GraphQL[RequestContext, None]):
    def __init__(self, schema: DocgraphSchema, settings: Settings) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.graphql_graphiql else None,
                         allow_queries_via_get=False, multipart_uploads_enabled=False)
        self.docgraph_schema = schema
        self.settings = settings
        self.max_body_bytes = settings.graphql_max_body_bytes
        self.prepared_queries = settings.graphql_compiled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method in ("GET", "HEAD"):
            request = Request(scope)
            if self.graphql_ide and self.should_render_graphql_ide(request):  # type: ignore[arg-type]
                await (await self.render_graphql_ide(request))(scope, receive, send)
                return
            raise MethodNotAllowed("Send GraphQL operations with POST."
                                   + (" GET /graphql serves GraphiQL to browsers."
                                      if self.graphql_ide else ""),
                                   headers={"Allow": "POST"})
        if method != "POST":
            raise MethodNotAllowed(headers={"Allow": "GET, POST" if self.graphql_ide else "POST"})
        declared = Request(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large()
        request = Request(scope, receive=self._limited(receive))
        try:
            response = await self._run_prepared_query(request) if self.prepared_queries \
                else None
            if response is None:
                response = await self.run(request)
        except HTTPException as exc:
            raise _app_error(exc) from exc
        await response(scope, receive, send)

    async def _run_prepared_query(self, request: Request) -> Response | None:
        """A plain JSON query whose document is valid, without strawberry's request layers.

        strawberry's view and ``Schema.execute`` wrap each operation in request
        adapters, a sub-response and extension hooks; for a query already parsed
        and validated (``DocgraphSchema.prepared_query``) that is most of the
        time outside execution. The answer is the one ``run`` would give.
        None for any other request (mutations, errors, batches, streaming,
        extensions): ``run`` answers it.
        """
        headers = request.headers
        if not headers.get("content-type", "").startswith("application/json") or \
                any(kind in headers.get("accept", "") for kind in _STREAMING_TYPES):
            return None
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if type(data) is not dict or not data.keys() <= _PLAIN_REQUEST_KEYS:
            return None
        query, variables = data.get("query"), data.get("variables")
        operation_name = data.get("operationName")
        if type(query) is not str or not (variables is None or type(variables) is dict) or \
                not (operation_name is None or type(operation_name) is str):
            return None
        document = self.docgraph_schema.prepared_query(query, operation_name)
        if document is None:
            return None
        context = await self.get_context(request, None)
        result = await self.docgraph_schema.execute_prepared(document, variables, operation_name,
                                                             context)
        return self._json_response(await self.process_result(request, result))

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is larger than {self.max_body_bytes} bytes.",
                               details={"max_bytes": self.max_body_bytes})

    def _limited(self, receive: Receive) -> Receive:
        """``receive``, refusing a body (even one sent chunked) over the limit."""
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise self._too_large()
            return message

        return limited

    async def get_context(self, request: Request, response: Any) -> RequestContext:  # type: ignore[override]
        return request_context(request)

    async def process_result(self, request: Request,
                             result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [formatted(error) for error in result.errors]
        return await super().process_result(request, result)

    def create_response(self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
                        sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        _add_retry_after(response, response_data)
        return response

    def _json_response(self, response_data: GraphQLHTTPResponse) -> Response:
        """``create_response`` for an operation that set nothing on a sub-response."""
        response = Response(self.encode_json(response_data), media_type="application/json")
        _add_retry_after(response, response_data)
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page())

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)


# Requests the prepared path leaves to strawberry: other keys (extensions), streams.
_PLAIN_REQUEST_KEYS = frozenset({"query", "variables", "operationName"})
_STREAMING_TYPES = ("multipart/mixed", "text/event-stream")


def _add_retry_after(response: Response,
                     response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse]) -> None:
    if isinstance(response_data, dict):
        wait = retry_after(response_data.get("errors"))
        if wait is not None:
            response.headers["Retry-After"] = str(wait)


def _app_error(exc: HTTPException) -> AppError:
    if exc.status_code == 405:
        return MethodNotAllowed(exc.reason, headers={"Allow": "POST"})
    if exc.status_code == 404:
        return NotFound(exc.reason)
    if exc.status_code == 400:
        return ValidationError(exc.reason)
    error = AppError(exc.reason)
    error.status = exc.status_code
    return error
