"""The prepared-query shortcut: a plain query, past strawberry's ``Schema.execute``.

``Schema.execute`` wraps each operation in an execution context and extension
hooks; for a query whose text is parsed and validated already (both cached
per text, in ``schema.documents``) that is most of the time outside
execution. ``prepare`` recognises such a request (read by the view, once:
``http.graphql.read_request``); ``PreparedQuery.execute`` runs it with the
schema's own execution context class and rules. The answer is the one
strawberry's path would give (``tests/test_graphql_compiled.py`` sends both
paths the same requests).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from graphql import DocumentNode, GraphQLError, get_operation_ast
from graphql import OperationType as OperationDefinitionType
from graphql import execute as graphql_execute
from strawberry.execution import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.types import ExecutionResult

from docgraph.http.graphql import GraphQLRequest
from docgraph.schema import DocgraphSchema
from docgraph.schema.documents import parse_document, validation_errors
from docgraph.schema.errors import log_unexpected


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


def prepare(schema: DocgraphSchema, request: GraphQLRequest) -> PreparedQuery | None:
    """The request's query, if it is a plain query whose document is valid.

    None for any other request (mutations, documents with errors, no single
    operation, extensions): strawberry's path answers it.
    """
    if request.extensions is not None:
        return None
    document = prepared_document(schema, request.source, request.operation_name)
    if document is None:
        return None
    return PreparedQuery(schema, document, request.variables, request.operation_name)


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
