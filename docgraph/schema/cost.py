"""What a GraphQL request costs against the rate limit: its root fields.

Each root field of the operation that runs counts as one request, aliases
included (``a: document(id: 1) b: document(id: 2)`` costs 2), fields reached
through fragments at the root included. The operation is the one the GraphQL
view runs, chosen alike: the request is read once and its document found once
(``http.graphql.resolve_request``, kept for the view: a persisted document's hash
is priced as its document), its document parsed once (``schema.documents``'
cache, the view's), and its operation picked by GraphQL's GetOperation
(``get_operation_ast``: the one named ``operationName``, or the only one).
Anything that cannot be read, found or parsed, or names no single operation,
costs 1: the GraphQL layer refuses it without executing anything.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from graphql import GraphQLError, get_operation_ast
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from starlette.types import Scope

from docgraph.errors import AppError
from docgraph.http.graphql import resolve_request
from docgraph.http.rate_limits import Pricing
from docgraph.resolvers.persisted_operations import PersistedOperations
from docgraph.schema.documents import parse_document


def _count(selection_set: SelectionSetNode,
           fragments: Mapping[str, FragmentDefinitionNode], seen: frozenset[str]) -> int:
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += 1
        elif isinstance(selection, InlineFragmentNode):
            total += _count(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                total += _count(fragment.selection_set, fragments, seen | {name})
    return total


def root_fields(query: str, operation_name: str | None = None, *,
                max_tokens: int | None = None) -> int:
    """Root fields the operation executed would select (0 when none can run)."""
    try:
        document = parse_document(query, max_tokens)
    except GraphQLError:
        return 0
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    return _count(operation.selection_set, fragments, frozenset())


async def request_cost(scope: Scope, body: bytes, *, max_tokens: int | None = None,
                       operations: PersistedOperations | None = None) -> int:
    """The cost of one HTTP request to the GraphQL endpoint (``body``: a POST's).

    ``max_tokens`` is the GraphQL layer's own limit: a longer document is not
    parsed further here either (it will be refused, so it costs 1).
    ``operations``: where a persisted document's hash finds its document.
    """
    try:
        request = await resolve_request(scope, body, operations)
    except AppError:
        return 1
    return max(1, root_fields(request.source, request.operation_name, max_tokens=max_tokens))


def pricing(*, max_body_bytes: int, max_root_fields: int, max_tokens: int,
            operations: PersistedOperations | None = None) -> Pricing:
    """What the rate limiter counts a request to the GraphQL endpoint as: its root fields."""
    return Pricing(price=functools.partial(request_cost, max_tokens=max_tokens,
                                           operations=operations),
                   max_body_bytes=max_body_bytes, max_cost=max_root_fields,
                   unit="root_fields")
