"""The GraphQL schema: Strawberry types (no I/O; use cases are in resolvers/)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    ListValueNode,
    NoSchemaIntrospectionCustomRule,
    ObjectValueNode,
    ValueNode,
    specified_rules,
    value_from_ast_untyped,
)
from graphql.execution import Executor
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from docgraph.config import Settings
from docgraph.resolvers import json_text
from docgraph.resolvers.validation import SAFE_INTEGER_MAX
from docgraph.schema.documents import DOCUMENT_CACHE_SIZE, OperationDocuments
from docgraph.schema.errors import log_unexpected
from docgraph.schema.mutation import Mutation
from docgraph.schema.query import Query
from docgraph.schema.subscription import Subscription
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



def _json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    """A JSON literal, its numbers read by ``json_text``: graphql-core would read
    ``1.0000000000000001`` as ``1.0``, and validation could no longer tell."""
    if isinstance(node, IntValueNode):
        return json_text.integer(node.value)
    if isinstance(node, FloatValueNode):
        return json_text.fraction(node.value)
    if isinstance(node, ObjectValueNode):
        return {field.name.value: _json_literal(field.value, variables) for field in node.fields}
    if isinstance(node, ListValueNode):
        return [_json_literal(value, variables) for value in node.values]
    return value_from_ast_untyped(node, variables)


_ECMA_404 = "https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf"
# strawberry's JSON scalar (same name, description and specification), reading
# literals with _json_literal. Variables arrive read by json_text already (the view's
# decode_json).
JSON_SCALAR = strawberry.scalar(
    name="JSON",
    description=f"The `JSON` scalar type represents JSON values as specified by [ECMA-404]"
                f"({_ECMA_404}).",
    specified_by_url=_ECMA_404,
    serialize=lambda value: value, parse_value=lambda value: value,
    parse_literal=_json_literal,
)


class DocgraphSchema(strawberry.Schema):
    """strawberry's schema, with the rules and token limit every document is checked with.

    (Kept here for whoever checks documents outside strawberry's hooks, such as
    the fast path's prepared queries, so that both agree and share one cache.)
    """

    def __init__(self, *args: Any, validation_rules: Sequence[type[ASTValidationRule]] = (),
                 max_tokens: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every rule a request's document is validated with (see OperationDocuments).
        self.validation_rules = (*specified_rules, *validation_rules)
        self.max_tokens = max_tokens

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        """Log only the unexpected errors, with the request id (the rest are the caller's)."""
        context = execution_context.context if execution_context else None
        log_unexpected(errors, getattr(context, "request_id", None))


def build_schema(settings: Settings | None = None, *,
                 execution_context_class: type[Executor] | None = None,
                 ) -> DocgraphSchema:
    """The schema, with the protections ``settings`` ask for (defaults: Settings()).

    ``execution_context_class``: the executor of every operation (None:
    strawberry's). The schema does not choose it: ``schema.view.graphql_app`` does.
    """
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
        subscription=Subscription,
        types=list(ENTITY_TYPES),
        extensions=[
            partial(OperationDocuments, rules=rules, max_tokens=settings.graphql_max_tokens,
                    maxsize=DOCUMENT_CACHE_SIZE),
        ],
        config=StrawberryConfig(
            scalar_map={SafeInt: SAFE_INT, JSON: JSON_SCALAR},
            disable_field_suggestions=not settings.graphql_introspection,
        ),
        execution_context_class=execution_context_class,
    )


def schema_sdl() -> str:
    """The schema in GraphQL SDL, as committed in ``schema.graphql``."""
    return str(build_schema()) + "\n"
