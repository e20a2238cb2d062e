"""The GraphQL schema: Strawberry types (no I/O; use cases are in resolvers/)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from functools import partial
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    IntValueNode,
    NoSchemaIntrospectionCustomRule,
    ValueNode,
    get_operation_ast,
    specified_rules,
)
from graphql import OperationType as OperationDefinitionType
from graphql import execute as graphql_execute
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult

from docgraph.config import Settings
from docgraph.resolvers.validation import SAFE_INTEGER_MAX
from docgraph.schema.documents import (
    DOCUMENT_CACHE_SIZE,
    OperationDocuments,
    parse_document,
    validation_errors,
)
from docgraph.schema.errors import log_unexpected
from docgraph.schema.executor import CompiledExecutor
from docgraph.schema.mutation import Mutation
from docgraph.schema.query import Query
from docgraph.schema.types import ENTITY_TYPES, SafeInt


def _safe_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > SAFE_INTEGER_MAX:
        raise GraphQLError(f"SafeInt cannot represent {value!r}: expected an integer "
                           f"between -{SAFE_INTEGER_MAX} and {SAFE_INTEGER_MAX}.")
    return value


def _safe_int_literal(node: ValueNode, variables: Any = None) -> int:
    if not isinstance(node, IntValueNode):
        raise GraphQLError("SafeInt cannot represent a non-integer value.", node)
    return _safe_int(int(node.value))


SAFE_INT = strawberry.scalar(
    name="SafeInt",
    description=f"An integer between -{SAFE_INTEGER_MAX} and {SAFE_INTEGER_MAX} (2^53 - 1), "
                "exact in JavaScript; used for byte sizes, which outgrow Int.",
    serialize=int, parse_value=_safe_int, parse_literal=_safe_int_literal,
)


class DocgraphSchema(strawberry.Schema):
    """strawberry's schema, with a shorter path for queries it has already validated."""

    def __init__(self, *args: Any, validation_rules: Sequence[type[ASTValidationRule]] = (),
                 max_tokens: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every rule a request's document is validated with (see OperationDocuments).
        self.validation_rules = (*specified_rules, *validation_rules)
        self.max_tokens = max_tokens

    def prepared_query(self, query: str, operation_name: str | None) -> DocumentNode | None:
        """The parsed document of a valid query operation (both steps cached per text).

        None for anything else (a mutation, a syntax or validation error, an
        unknown operation name): ``execute`` then runs and reports it as usual.
        """
        try:
            document = parse_document(query, self.max_tokens)
        except GraphQLError:
            return None
        if validation_errors(self._schema, document, self.validation_rules):
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationDefinitionType.QUERY:
            return None
        return document

    async def execute_prepared(self, document: DocumentNode, variables: dict[str, Any] | None,
                               operation_name: str | None, context: Any) -> ExecutionResult:
        """Run a document from ``prepared_query``, as ``execute`` would run it.

        What ``execute`` adds around graphql-core's execution — its extension
        hooks, which only parse and validate (done), and the execution context
        they share — is skipped; the result and its errors are the same.
        """
        outcome = graphql_execute(
            self._schema, document, context_value=context, variable_values=variables,
            operation_name=operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            **execution_context_class_kwargs(self.execution_context_class),
        )
        result = await outcome if isinstance(outcome, Awaitable) else outcome
        if result.errors:
            log_unexpected(result.errors, getattr(context, "request_id", None))
        return ExecutionResult(data=result.data, errors=result.errors)

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        """Log only the unexpected errors, with the request id (the rest are the caller's)."""
        context = execution_context.context if execution_context else None
        log_unexpected(errors, getattr(context, "request_id", None))


def build_schema(settings: Settings | None = None) -> DocgraphSchema:
    """The schema, with the protections ``settings`` ask for (defaults: Settings())."""
    settings = settings or Settings()
    # Built once, so the validation cache (keyed by the rules) hits across requests.
    rules = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    if not settings.graphql_introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return DocgraphSchema(
        validation_rules=rules,
        max_tokens=settings.graphql_max_tokens,
        query=Query,
        mutation=Mutation,
        types=list(ENTITY_TYPES),
        extensions=[
            partial(OperationDocuments, rules=rules, max_tokens=settings.graphql_max_tokens,
                    maxsize=DOCUMENT_CACHE_SIZE),
        ],
        config=StrawberryConfig(
            scalar_map={SafeInt: SAFE_INT},
            disable_field_suggestions=not settings.graphql_introspection,
        ),
        execution_context_class=CompiledExecutor if settings.graphql_compiled else None,
    )


def schema_sdl() -> str:
    """The schema in GraphQL SDL, as committed in ``schema.graphql``."""
    return str(build_schema()) + "\n"
