"""``/graphql`` over HTTP, as the GraphQL-over-HTTP specification has it.

* POST runs one operation sent as a JSON object (``application/json``); GET
  runs a query whose parameters (``query``, ``variables``, ``operationName``,
  ``extensions``) are URL-encoded, never a mutation (405 with ``Allow: POST``).
  Both need a key, and both are priced and limited alike: the request is read
  once (``http.graphql.read_request``), by the rate limiter or else here.
* A document with several operations runs the one ``operationName`` names; with
  none named, or a name it lacks, nothing runs: a GraphQL request error, as
  GraphQL's GetOperation says (the rate limiter charges such a request 1).
* The response's media type is negotiated (``application/graphql-response+json``
  or ``application/json``; 406 for neither); a GraphQL request error (no
  ``data``) is 400 with the first and 200 with the second; a response with
  ``data`` is 200. Errors of an operation carry ``extensions.code``; when one
  asks to retry later (``unavailable``) the response carries ``Retry-After``.
  Refusals of the request itself (malformed, wrong method, and those of the
  HTTP layers in front) are GraphQL responses too (``http.graphql.error_response``).
* GET without a ``query`` parameter serves GraphiQL to browsers (no key: it
  holds no data) when ``DOCGRAPH_GRAPHQL_GRAPHIQL`` is on (and not only trusted
  documents run: GraphiQL sends queries of its own).
* Persisted documents (``http.graphql.resolve_request``): a request may name its
  document by hash, and runs as if it had sent the text, byte for byte the same
  answer. One that sends a text with its hash registers it here (automatic
  persisted queries), once the document parses and validates: garbage is never
  kept. The manifest of trusted documents is read and checked when the app is
  built (``schema.persisted.trusted_documents``).
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, get_operation_ast
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType as StrawberryOperationType

from docgraph.config import Settings
from docgraph.errors import InvalidKey, MethodNotAllowed, NotAcceptable
from docgraph.http.bodies import buffer_body
from docgraph.http.context import request_context, services
from docgraph.http.graphql import (
    CONTENT_TYPES,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    GraphQLRequest,
    asks_to_run,
    header,
    media_type_of,
    needs_body,
    read_request,
    request_error_status,
    resolve_request,
)
from docgraph.resolvers.persisted_operations import PersistedOperations
from docgraph.schema import DocgraphSchema, build_schema, graphiql
from docgraph.schema.documents import parse_document
from docgraph.schema.errors import formatted, retry_after
from docgraph.schema.fast import FastPath
from docgraph.schema.persisted import is_valid, persisted_operations

# What each method may run (subscriptions: neither; the schema has none).
_ALLOWED = {
    "GET": frozenset({StrawberryOperationType.QUERY}),
    "POST": frozenset({StrawberryOperationType.QUERY, StrawberryOperationType.MUTATION}),
}


class GraphQLApp:
    """The ASGI app of ``/graphql`` (see the module's docstring)."""

    def __init__(self, schema: DocgraphSchema, settings: Settings,
                 fast: FastPath | None = None,
                 operations: PersistedOperations | None = None,
                 dev_key: str | None = None) -> None:
        self.schema = schema
        self.graphiql = settings.serves_graphiql
        # ``docgraph dev``'s key, for GraphiQL's headers (see graphiql.dev_key_for).
        self.dev_key = dev_key
        self.max_body_bytes = settings.graphql_max_body_bytes
        # The fast path, if the schema runs its executor (see ``graphql_app``).
        self.fast = fast
        # Where hashes find their documents (None: requests must send their text).
        self.operations = operations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "GET" and self.graphiql and self._wants_graphiql(scope):
            key = graphiql.dev_key_for(scope, self.dev_key)
            # With a development key, the page depends on who asks, and is kept nowhere.
            response: Response = HTMLResponse(graphiql.page(key), headers={
                "Cache-Control": "no-store", "Vary": "Host, Origin"} if self.dev_key else None)
        elif method not in _ALLOWED:
            raise MethodNotAllowed("Send GraphQL operations with POST, or queries with GET.",
                                   headers={"Allow": "GET, POST"})
        else:
            media_type = media_type_of(scope)
            if media_type is None:
                raise NotAcceptable(f"GraphQL responses are sent as {GRAPHQL_RESPONSE_JSON} "
                                    f"or {JSON}: accept one of them.")
            body = b""
            if needs_body(scope):
                body, receive = await buffer_body(scope, receive, self.max_body_bytes)
            read_request(scope, body)  # a malformed request is refused before a missing key
            response = await self._run(scope, body, media_type)
        await response(scope, receive, send)

    @staticmethod
    def _wants_graphiql(scope: Scope) -> bool:
        """A browser's GET without an operation: the GraphiQL page."""
        accept = header(scope, b"accept")
        return not asks_to_run(scope) and ("text/html" in accept or "*/*" in accept)

    async def _run(self, scope: Scope, body: bytes, media_type: str) -> Response:
        if "principal" not in scope["state"]:  # authentication lets no operation through
            raise InvalidKey()
        request = await resolve_request(scope, body, self.operations)
        if request.register and self.operations is not None:
            await self._register(scope, request, self.operations)
        context = request_context(Request(scope))
        if self.fast is not None:
            prepared = self.fast.prepare(self.schema, request)
            if prepared is not None:
                return self._respond(await prepared.execute(context), media_type)
        method = scope["method"]
        refusal = self._no_single_operation(method, request)
        if refusal is not None:
            return self._respond(ExecutionResult(data=None, errors=[refusal]), media_type)
        try:
            result = await self.schema.execute(
                request.source, variable_values=request.variables, context_value=context,
                operation_name=request.operation_name, allowed_operation_types=_ALLOWED[method],
                operation_extensions=request.extensions)
        except CannotGetOperationTypeError as exc:
            result = ExecutionResult(data=None, errors=[GraphQLError(exc.as_http_error_reason())])
        except InvalidOperationTypeError as exc:
            result = ExecutionResult(data=None, errors=[
                GraphQLError(exc.as_http_error_reason(method))])
        except MissingQueryError:
            result = ExecutionResult(data=None, errors=[GraphQLError("No GraphQL query found.")])
        return self._respond(result, media_type)

    async def _register(self, scope: Scope, request: GraphQLRequest,
                        operations: PersistedOperations) -> None:
        """Keep a text sent with its (checked) hash, if it is a valid document: its hash
        alone then finds it. Not kept: too large, or a document that will be refused."""
        assert request.sha256 is not None
        if operations.storable(request.source) and is_valid(self.schema, request.source):
            await operations.register(services(scope["app"]).db, request.sha256,
                                      request.source)

    def _no_single_operation(self, method: str, request: GraphQLRequest) -> GraphQLError | None:
        """GraphQL's GetOperation: the request error when the document names no single
        operation to run (which strawberry would answer by running the first); 405 for
        a GET that names a mutation. None otherwise (a syntax error: strawberry reports it).
        """
        try:
            document = parse_document(request.source, self.schema.max_tokens)
        except GraphQLError:
            return None
        operation = get_operation_ast(document, request.operation_name)
        if operation is None:  # graphql-core's own messages
            if request.operation_name is not None:
                message = f"Unknown operation named '{request.operation_name}'."
            elif any(isinstance(d, OperationDefinitionNode) for d in document.definitions):
                message = "Must provide operation name if query contains multiple operations."
            else:
                message = "Must provide an operation."
            return GraphQLError(message)
        if method == "GET" and operation.operation is not OperationType.QUERY:
            raise MethodNotAllowed("GET runs queries only: send mutations with POST.",
                                   headers={"Allow": "POST"})
        return None

    def _respond(self, result: ExecutionResult, media_type: str) -> Response:
        """The GraphQL response: ``data`` (absent after a request error), ``errors``."""
        payload: dict[str, Any] = {}
        status = 200
        errors = [formatted(error).formatted for error in result.errors] \
            if result.errors else None
        if result.data is None and errors and all(e.get("path") is None for e in errors):
            payload["errors"] = errors  # a request error: nothing ran
            status = request_error_status(media_type, errors)
        else:
            payload["data"] = result.data
            if errors:
                payload["errors"] = errors
        if result.extensions:
            payload["extensions"] = result.extensions
        response = Response(orjson.dumps(payload), status_code=status,
                            media_type=CONTENT_TYPES[media_type])
        wait = retry_after(errors)
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        return response


def graphql_app(settings: Settings, dev_key: str | None = None) -> GraphQLApp:
    """``/graphql``'s app: the one place that decides which execution path runs.

    With ``DOCGRAPH_GRAPHQL_COMPILED`` (the default), the fast path's executor
    runs every operation and its shortcut takes plain queries past strawberry's
    ``Schema.execute``; without, strawberry and graphql-core do everything.
    Its persisted operations (``app.operations``, which the rate limiter's pricing
    shares) come from the settings; a bad manifest of trusted documents raises
    ``ConfigError`` here, before anything serves. ``dev_key``: ``docgraph dev``'s
    key, which GraphiQL's page then holds.
    """
    if not settings.graphql_compiled:
        schema = build_schema(settings)
        return GraphQLApp(schema, settings, operations=persisted_operations(settings, schema),
                          dev_key=dev_key)
    fast = FastPath()
    schema = build_schema(settings, execution_context_class=fast.execution_context_class)
    return GraphQLApp(schema, settings, fast, persisted_operations(settings, schema),
                      dev_key=dev_key)
