"""What a GraphQL request costs against the rate limit: its root fields.

Each root field of the operation executed counts as one request, aliases
included (``a: document(id: 1) b: document(id: 2)`` costs 2), fields reached
through fragments at the root included. A batch (a JSON list, should
batching ever be enabled) costs the sum of its operations. Anything that
cannot be parsed or names no single operation costs 1: the GraphQL layer
refuses it without executing anything.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from graphql import GraphQLError, parse
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from docgraph.http.rate_limits import Pricing

# Documents up to this size are parsed once and cached; larger ones each time.
_CACHEABLE_LENGTH = 16_384


@functools.lru_cache(maxsize=512)
def _parse_cached(query: str, max_tokens: int | None) -> DocumentNode | None:
    return _parse(query, max_tokens)


def _parse(query: str, max_tokens: int | None) -> DocumentNode | None:
    """The document, or None when GraphQL will refuse it (syntax, too many tokens)."""
    try:
        return parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return None


def _document(query: str, max_tokens: int | None) -> DocumentNode | None:
    if len(query) <= _CACHEABLE_LENGTH:
        return _parse_cached(query, max_tokens)
    return _parse(query, max_tokens)


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
    """Root fields the operation executed would select (0 when it cannot run)."""
    document = _document(query, max_tokens)
    if document is None:
        return 0
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return 0
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    return _count(operations[0].selection_set, fragments, frozenset())


def _operation_cost(payload: Any, max_tokens: int | None) -> int:
    if not isinstance(payload, dict):
        return 1
    query = payload.get("query")
    name = payload.get("operationName")
    if not isinstance(query, str):
        return 1
    return max(1, root_fields(query, name if isinstance(name, str) else None,
                              max_tokens=max_tokens))


def request_cost(method: str, query_string: bytes, body: bytes, *,
                 max_tokens: int | None = None) -> int:
    """The cost of one HTTP request to the GraphQL endpoint.

    ``max_tokens`` is the GraphQL layer's own limit: a longer document is not
    parsed further here either (it will be refused, so it costs 1).
    """
    if method == "GET":
        params = parse_qs(query_string.decode("latin-1"))
        query = params.get("query", [None])[0]
        name = params.get("operationName", [None])[0]
        return _operation_cost({"query": query, "operationName": name}, max_tokens)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 1
    if isinstance(payload, list):
        return max(1, sum(_operation_cost(p, max_tokens) for p in payload))
    return _operation_cost(payload, max_tokens)


def pricing(*, max_body_bytes: int, max_root_fields: int, max_tokens: int) -> Pricing:
    """What the rate limiter counts a request to the GraphQL endpoint as: its root fields."""
    return Pricing(price=functools.partial(request_cost, max_tokens=max_tokens),
                   max_body_bytes=max_body_bytes, max_cost=max_root_fields,
                   unit="root_fields")
