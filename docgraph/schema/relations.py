"""Relation fields: a resolver that only loads one key through a dataloader.

``@loads("links_by_document", "id")`` under ``@strawberry.field`` declares
that the resolver returns ``info.context.links_by_document.load(self.id)``
and does nothing else. The compiled executor (``schema.executor``) then calls
the loader itself instead of going through the resolver wrapper, once per
object of a list, or takes the value the loader holds already (``known``);
``tests/test_graphql_compiled.py`` checks every declared relation against its
resolver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from docgraph.schema.executor import RELATION_ATTRIBUTE

F = TypeVar("F", bound=Callable[..., Any])


def loads(loader: str, key: str) -> Callable[[F], F]:
    def mark(resolver: F) -> F:
        setattr(resolver, RELATION_ATTRIBUTE, (loader, key))
        return resolver

    return mark
