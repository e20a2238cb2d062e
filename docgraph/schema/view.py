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
from docgraph.resolvers import json_text
from docgraph.resolvers.context import RequestContext
from docgraph.schema import DocgraphSchema, build_schema, graphiql
from docgraph.schema.errors import formatted, retry_after
from docgraph.schema.fast import FastPath


class GraphQLApp(GraphQL[RequestContext, None]):
    def __init__(self, schema: DocgraphSchema, settings: Settings,
                 fast: FastPath | None = None) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.graphql_graphiql else None,
                         allow_queries_via_get=False, multipart_uploads_enabled=False)
        self.docgraph_schema = schema
        self.settings = settings
        self.max_body_bytes = settings.graphql_max_body_bytes
        # The fast path, if the schema runs its executor (see ``graphql_app``).
        self.fast = fast

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
            response = await self._run_prepared_query(self.fast, request) \
                if self.fast is not None else None
            if response is None:
                response = await self.run(request)
        except HTTPException as exc:
            raise _app_error(exc) from exc
        await response(scope, receive, send)

    async def _run_prepared_query(self, fast: FastPath, request: Request) -> Response | None:
        """A plain JSON query whose document is valid, through the fast path's shortcut.

        The answer is the one ``run`` would give; None for any other request
        (mutations, errors, batches, streaming, extensions): ``run`` answers it.
        """
        prepared = await fast.prepare(self.docgraph_schema, request)
        if prepared is None:
            return None
        result = await prepared.execute(await self.get_context(request, None))
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
        return json_text.loads(data)  # orjson, but no number in a JSON field changes


def graphql_app(settings: Settings) -> GraphQLApp:
    """``/graphql``'s app: the one place that decides which execution path runs.

    With ``DOCGRAPH_GRAPHQL_COMPILED`` (the default), the fast path's executor
    runs every operation and its shortcut takes plain queries past strawberry's
    request layers; without, strawberry and graphql-core do everything.
    """
    if not settings.graphql_compiled:
        return GraphQLApp(build_schema(settings), settings)
    fast = FastPath()
    schema = build_schema(settings, execution_context_class=fast.execution_context_class)
    return GraphQLApp(schema, settings, fast)


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
