"""Operation documents: each query text parsed once, each parsed document validated once.

One schema extension does what four of strawberry's would (``MaxTokensLimiter``,
``ParserCache``, ``AddValidationRules``, ``ValidationCache``), with one set of
hooks per request instead of four. It also keys validation by the parsed
document's identity: strawberry's ``ValidationCache`` keys its LRU by the
document itself, and a graphql-core document hashes by value, every node of
the tree, on every request. The parse cache hands back the same document
object for the same query text, so identity is key enough; the validation
cache keeps a reference to each document it holds, so an id is never reused
while its entry lives.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
)
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.schema import validate_document

_Key = tuple[int, int, tuple[type, ...]]

# Parsed and validated documents kept per process (LRUs of distinct query texts).
DOCUMENT_CACHE_SIZE = 512


@functools.lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def parse_document(query: str, max_tokens: int | None) -> DocumentNode:
    """The parsed query text (a syntax error or too many tokens: GraphQLError)."""
    return parse(query, max_tokens=max_tokens)


class OperationDocuments(SchemaExtension):
    """Parse within ``max_tokens``, validate with the schema's ``rules`` added; both cached."""

    _validated: OrderedDict[_Key, tuple[Any, DocumentNode | None, list[GraphQLError]]] = (
        OrderedDict())
    # Validations of this process answered from the cache, and those that ran:
    # observability for tests; the service never reads them.
    hits = 0
    misses = 0

    def __init__(self, *, rules: Sequence[type[ASTValidationRule]], max_tokens: int,
                 maxsize: int = DOCUMENT_CACHE_SIZE) -> None:
        super().__init__()
        self.rules = tuple(rules)
        self.max_tokens = max_tokens
        self.maxsize = maxsize

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = context.validation_rules + self.rules
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            context.graphql_document = parse_document(context.query, self.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.pre_execution_errors = validation_errors(
            context.schema._schema, context.graphql_document,  # type: ignore[arg-type]
            tuple(context.validation_rules), self.maxsize)
        yield


def validation_errors(schema: GraphQLSchema, document: DocumentNode,
                      rules: tuple[type[ASTValidationRule], ...],
                      maxsize: int = DOCUMENT_CACHE_SIZE) -> list[GraphQLError]:
    """``document``'s validation errors against ``schema`` and ``rules``, once per document."""
    validated = OperationDocuments._validated
    key = (id(schema), id(document), rules)
    entry = validated.get(key)
    if entry is not None and entry[0] is schema and entry[1] is document:
        validated.move_to_end(key)
        OperationDocuments.hits += 1
        return entry[2]
    OperationDocuments.misses += 1
    errors = validate_document(schema, document, rules)
    validated[key] = (schema, document, errors)
    if len(validated) > maxsize:
        validated.popitem(last=False)
    return errors


def single_operation(document: DocumentNode,
                     operation_name: str | None) -> OperationDefinitionNode:
    """GraphQL's GetOperation: the operation ``operation_name`` names, or the only one.

    Raises the request error, in graphql-core's words, when the document names no
    single operation to run (which strawberry would answer by running the first).
    """
    operation = get_operation_ast(document, operation_name)
    if operation is not None:
        return operation
    if operation_name is not None:
        message = f"Unknown operation named '{operation_name}'."
    elif any(isinstance(d, OperationDefinitionNode) for d in document.definitions):
        message = "Must provide operation name if query contains multiple operations."
    else:
        message = "Must provide an operation."
    raise GraphQLError(message)
