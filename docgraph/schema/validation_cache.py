"""Validation results cached by the parsed document's identity.

strawberry's ``ValidationCache`` keys its LRU by the document itself, and a
graphql-core document hashes by value: every node of the tree, on every
request. The parser cache (``ParserCache``) already hands back the same
document object for the same query text, so its identity is key enough. The
cache keeps a reference to each document it holds, so an id is never reused
while its entry lives.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.schema import validate_document

_Key = tuple[int, int, tuple[type, ...]]


class DocumentValidationCache(SchemaExtension):
    """Validate each parsed document once per schema and set of rules (an LRU)."""

    _entries: OrderedDict[_Key, tuple[Any, DocumentNode | None, list[GraphQLError]]] = (
        OrderedDict())
    # Lookups of this process that found their entry, and those that validated.
    hits = 0
    misses = 0

    def __init__(self, maxsize: int = 512) -> None:
        super().__init__()
        self.maxsize = maxsize

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document = context.schema._schema, context.graphql_document
        rules = tuple(context.validation_rules)
        key = (id(schema), id(document), rules)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is schema and entry[1] is document:
            self._entries.move_to_end(key)
            errors = entry[2]
            DocumentValidationCache.hits += 1
        else:
            DocumentValidationCache.misses += 1
            errors = validate_document(schema, document, rules)  # type: ignore[arg-type]
            self._entries[key] = (schema, document, errors)
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        context.pre_execution_errors = errors
        yield
