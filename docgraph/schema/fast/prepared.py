"""The prepared-query shortcut: a plain JSON query, past strawberry's request layers.

strawberry's view and ``Schema.execute`` wrap each operation in request
adapters, a sub-response and extension hooks; for a query whose text is
parsed and validated already (both cached per text, in ``schema.documents``)
that is most of the time outside execution. ``prepare`` recognises such a
request; ``PreparedQuery.execute`` runs it with the schema's own execution
context class and rules. The answer is the one strawberry's path would give
(``tests/test_graphql_compiled.py`` sends both paths the same request bodies).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLError, get_operation_ast
from graphql import OperationType as OperationDefinitionType
from graphql import execute as graphql_execute
from starlette.requests import Request
from strawberry.execution import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.types import ExecutionResult

from docgraph.schema import DocgraphSchema
from docgraph.schema.documents import parse_document, validation_errors
from docgraph.schema.errors import log_unexpected

# Requests left to strawberry: other keys (extensions), streams.
_PLAIN_REQUEST_KEYS = frozenset({"query", "variables", "operationName"})
_STREAMING_TYPES = ("multipart/mixed", "text/event-stream")


class PreparedQuery:
    """A valid query operation of ``schema``, with the request's variables."""

    __slots__ = ("document", "operation_name", "schema", "variables")

    def __init__(self, schema: DocgraphSchema, document: DocumentNode,
                 variables: dict[str, Any] | None, operation_name: str | None) -> None:
        self.schema = schema
        self.document = document
        self.variables = variables
        self.operation_name = operation_name

    async def execute(self, context: Any) -> ExecutionResult:
        """Run the query, as ``Schema.execute`` would run it.

        What ``execute`` adds around graphql-core's execution — its extension
        hooks, which only parse and validate (done), and the execution context
        they share — is skipped; the result and its errors are the same.
        """
        schema = self.schema
        outcome = graphql_execute(
            schema._schema, self.document, context_value=context,
            variable_values=self.variables, operation_name=self.operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            **execution_context_class_kwargs(schema.execution_context_class),
        )
        result = await outcome if isinstance(outcome, Awaitable) else outcome
        if result.errors:
            log_unexpected(result.errors, getattr(context, "request_id", None))
        return ExecutionResult(data=result.data, errors=result.errors)


async def prepare(schema: DocgraphSchema, request: Request) -> PreparedQuery | None:
    """The request's query, if it is a plain JSON query whose document is valid.

    None for any other request (mutations, errors, batches, streaming,
    extensions): strawberry's path answers it.
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
    document = prepared_document(schema, query, operation_name)
    if document is None:
        return None
    return PreparedQuery(schema, document, variables, operation_name)


def prepared_document(schema: DocgraphSchema, query: str,
                      operation_name: str | None) -> DocumentNode | None:
    """The parsed document of a valid query operation (both steps cached per text).

    None for anything else (a mutation, a syntax or validation error, an
    unknown operation name): strawberry's path then runs and reports it.
    """
    try:
        document = parse_document(query, schema.max_tokens)
    except GraphQLError:
        return None
    if validation_errors(schema._schema, document, schema.validation_rules):
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationDefinitionType.QUERY:
        return None
    return document
