"""What a request was, for metrics' labels and spans' names: its route and operation.

Both are bounded: a route is one of the app's route templates (``/v1/documents/{id}``),
never the path a client sent; a GraphQL operation's name is one the document
really holds (the one that ran), and :class:`OperationNames` gives labels of their
own to a bounded number of them.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable

from graphql import GraphQLError, get_operation_ast
from starlette.routing import Match
from starlette.types import Scope

from docgraph.http.graphql import RESOLVED_KEY, STATE_KEY, GraphQLRequest
from docgraph.schema.documents import parse_document

# A request no route answers (a 404 for an unknown path).
UNMATCHED = "(unmatched)"
# Operation labels that are no operation's name.
NO_OPERATION = "(none)"  # at /graphql, a request that ran no operation (malformed, refused)
ANONYMOUS = "(anonymous)"
OTHER = "(other)"  # names past the limit, and overlong ones
# Longest operation name given a label of its own.
MAX_NAME_LENGTH = 100

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(scope: Scope) -> str:
    """The request's method; anything unusual (HTTP allows any token) is ``other``."""
    method: str = scope["method"]
    return method if method in METHODS else "other"


def route_template(scope: Scope) -> str:
    """The template of the route that answered (or would have: a request refused before
    routing, by authentication or the rate limiter, is matched here), or ``(unmatched)``.
    """
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        partial = None
        for candidate in getattr(getattr(app, "router", None), "routes", ()):
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                route = candidate
                break
            if match is Match.PARTIAL and partial is None:
                partial = candidate
        route = route or partial
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """The GraphQL operation a request ran: ``query``/``mutation``, and its name."""

    type: str
    name: str | None


def graphql_operation(scope: Scope, max_tokens: int | None) -> Operation | None:
    """The operation a GraphQL request named (None: no single one, or no GraphQL request).

    Read from what the HTTP layers kept of the request (``http.graphql``); its
    document comes from the parse cache the GraphQL view filled (``max_tokens``: the
    schema's, so that the cache's key is the view's).
    """
    state = scope.get("state")
    if not state:
        return None
    request = state.get(RESOLVED_KEY)
    if not isinstance(request, GraphQLRequest):
        request = state.get(STATE_KEY)
    if not isinstance(request, GraphQLRequest) or request.query is None:
        return None
    try:
        document = parse_document(request.query, max_tokens)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, request.operation_name)
    if operation is None:
        return None
    return Operation(operation.operation.value,
                     operation.name.value if operation.name is not None else None)


class OperationNames:
    """Labels for operation names: the first ``limit`` names seen keep theirs, every
    later one (and any name over ``MAX_NAME_LENGTH``) is ``(other)``; reserved names
    (:meth:`reserve`) keep theirs too, without counting towards the limit.

    Per process: with several workers, at most ``limit`` names each.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: set[str] = set()
        self._reserved: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def reserve(self, names: Iterable[str]) -> None:
        """Give ``names`` labels of their own, outside the limit: names known ahead (a
        manifest of trusted documents), never invented by clients."""
        self._reserved = frozenset(name for name in names if len(name) <= MAX_NAME_LENGTH)

    def label(self, operation: Operation | None) -> str:
        if operation is None:
            return NO_OPERATION
        name = operation.name
        if name is None:
            return ANONYMOUS
        if name in self._known or name in self._reserved:
            return name
        if len(name) > MAX_NAME_LENGTH:
            return OTHER
        with self._lock:
            if len(self._known) >= self.limit:
                return OTHER
            self._known.add(name)
        return name
