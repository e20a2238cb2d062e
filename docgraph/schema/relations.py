"""Relation fields: a resolver that only loads one key through a dataloader.

``@loads("links_by_document", "id")`` under ``@strawberry.field`` declares
that the resolver returns ``info.context.links_by_document.load(self.id)``
and does nothing else. The declaration belongs to the schema; whoever
executes it may use it (``relation_of``): the compiled executor
(``schema.fast``) calls the loader itself instead of going through the
resolver wrapper, once per object of a list, or takes the value the loader
holds already (``known``). ``tests/test_graphql_compiled.py`` checks every
declared relation against its resolver.

So nothing a relation must check may live in its resolver: the scope a
relation needs (``read:documents``) is checked by the context's loader
properties themselves (``resolvers.context.RequestContext``), which both
executors go through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# The attribute ``loads`` sets on a resolver function: ``(loader, key)``.
RELATION_ATTRIBUTE = "_docgraph_relation"


def loads(loader: str, key: str) -> Callable[[F], F]:
    def mark(resolver: F) -> F:
        setattr(resolver, RELATION_ATTRIBUTE, (loader, key))
        return resolver

    return mark


def relation_of(resolver: Callable[..., Any]) -> tuple[str, str] | None:
    """``(loader, key)`` if ``resolver`` was declared with ``@loads``, else None."""
    return getattr(resolver, RELATION_ATTRIBUTE, None)
