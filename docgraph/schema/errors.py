"""How errors leave GraphQL: an ``extensions.code`` on every one, nothing unexpected.

The schema logs the unexpected ones (``log_unexpected``); the HTTP view
rewrites every result's errors (``formatted``) just before encoding, so
errors raised anywhere (parsing included) get the same treatment:

* An ``AppError`` raised by a use case keeps its message and becomes
  ``extensions.code`` (and ``extensions.details``, its keys and field names
  in camelCase as GraphQL spells them). One that asks to retry later
  (``unavailable``, ``rate_limited``) adds ``extensions.retryAfter`` in
  seconds, and the HTTP response carries it as ``Retry-After``. (The HTTP
  layers' refusals get the same extensions: ``http.graphql.error_extensions``.)
* A problem with the request itself (syntax, validation, variables, limits)
  keeps graphql's own message, with code ``validation_error``.
* Anything else is masked as ``Internal server error.`` (``internal_error``)
  and logged with the request id.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from docgraph.errors import AppError, InternalError, ValidationError
from docgraph.http.graphql import error_extensions

log = logging.getLogger("docgraph.graphql")


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    if isinstance(original, AppError):
        return False
    # Before execution (no path) graphql reports the request's own faults.
    return error.path is not None or not (original is None
                                          or isinstance(original, GraphQLError))


def formatted(error: GraphQLError) -> GraphQLError:
    """The error as it leaves (see the module's docstring), once logged.

    Tracebacks are dropped: their frames hold the executor, which holds the
    errors, a cycle that kept each failed request's objects alive until the
    cyclic collector ran.
    """
    original = error.original_error
    error.__traceback__ = None
    if original is not None:
        original.__traceback__ = None
    extensions: dict[str, Any]
    if isinstance(original, AppError):
        message = original.message
        extensions = error_extensions(original)
    elif is_unexpected(error):
        message = InternalError.default_message
        extensions = {"code": InternalError.code}
        original = None
    else:
        message = error.message
        extensions = {**(error.extensions or {}), "code": ValidationError.code}
    return GraphQLError(message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path, original_error=original,
                        extensions=extensions)


def retry_after(errors: Any) -> int | None:
    """The longest ``retryAfter`` among formatted (JSON-ready) errors, if one asks to retry."""
    waits = [error["extensions"]["retryAfter"] for error in errors or ()
             if isinstance(error, dict) and isinstance(error.get("extensions"), dict)
             and isinstance(error["extensions"].get("retryAfter"), int)]
    return max(waits) if waits else None


def log_unexpected(errors: list[GraphQLError], request_id: str | None) -> None:
    for error in errors:
        if not is_unexpected(error):
            continue
        original = error.original_error
        exc_info = (type(original), original, original.__traceback__) if original else None
        log.error("unexpected error in a GraphQL operation: %s", error.message,
                  exc_info=exc_info,
                  extra={"request_id": request_id,
                         "graphql_path": ".".join(map(str, error.path or ()))})
