"""Persisted documents as the schema sees them: checked with the rules every request is.

* :func:`persisted_operations`: the store ``/graphql`` finds hashes in, as the
  settings ask: with ``DOCGRAPH_TRUSTED_DOCUMENTS``, the manifest, read and
  checked here (every key the SHA-256 of its document, every document valid
  against the schema and its limits) or refused with a ``ConfigError`` that says
  what is wrong, before anything serves.
* :func:`is_valid`: whether a text may be registered (automatic persisted
  queries): it parses and validates, through the caches execution uses.
* :func:`manifest`: the manifest of some documents (``docgraph
  persisted-documents``), checked the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import orjson
from graphql import GraphQLError, OperationDefinitionNode

from docgraph.config import ConfigError, Settings
from docgraph.resolvers.persisted_operations import PersistedOperations, sha256_hex
from docgraph.schema import DocgraphSchema
from docgraph.schema.documents import parse_document, validation_errors

ENV = "DOCGRAPH_TRUSTED_DOCUMENTS"
_KEY = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")
# How many bad documents a refusal names (the first ones).
_NAMED = 5


def document_problem(schema: DocgraphSchema, text: str) -> str | None:
    """Why ``text`` is no document ``schema`` would run (its first error); None if it is."""
    try:
        document = parse_document(text, schema.max_tokens)
    except GraphQLError as error:
        return error.message
    errors = validation_errors(schema._schema, document, schema.validation_rules)
    return errors[0].message if errors else None


def is_valid(schema: DocgraphSchema, text: str) -> bool:
    return document_problem(schema, text) is None


def read_manifest(path: Path) -> dict[str, str]:
    """A manifest's documents by hash (lower-case hex), each key checked against its text."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{ENV}: cannot read {path}: {exc.strerror}") from None
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{ENV}: {path} is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not manifest:
        raise ConfigError(f"{ENV}: {path} must be a JSON object of documents by their SHA-256, "
                          '{"<64 hex digits>": "query { ... }", ...}, with at least one')
    documents: dict[str, str] = {}
    for key, text in manifest.items():
        match = _KEY.fullmatch(key)
        if match is None:
            raise ConfigError(f"{ENV}: {path}: the key {key[:80]!r} is not a SHA-256 "
                              "(64 hexadecimal digits, alone or after sha256:)")
        if not isinstance(text, str):
            raise ConfigError(f"{ENV}: {path}: the document of {key} is not a string")
        sha256 = match.group(1).lower()
        actual = sha256_hex(text)
        if actual != sha256:
            raise ConfigError(f"{ENV}: {path}: {key} is not the SHA-256 of its document "
                              f"(that is {actual})")
        documents[sha256] = text
    return documents


def trusted_documents(path: Path, schema: DocgraphSchema) -> dict[str, str]:
    """The manifest at ``path``, every document checked against ``schema``."""
    documents = read_manifest(path)
    problems = [f"{sha256}: {problem}" for sha256, text in documents.items()
                if (problem := document_problem(schema, text)) is not None]
    if problems:
        named = "; ".join(problems[:_NAMED]) + ("; …" if len(problems) > _NAMED else "")
        raise ConfigError(f"{ENV}: {path}: {len(problems)} of {len(documents)} documents would "
                          f"be refused by the schema: {named}")
    return documents


def persisted_operations(settings: Settings, schema: DocgraphSchema) -> PersistedOperations:
    """The store of persisted operations the settings ask for (see the module's docstring)."""
    trusted = (trusted_documents(settings.trusted_documents, schema)
               if settings.trusted_documents is not None else None)
    return PersistedOperations(apq=settings.graphql_apq,
                               cache_size=settings.graphql_apq_cache_size,
                               max_document_bytes=settings.graphql_apq_max_document_bytes,
                               trusted=trusted)


def trusted_operation_names(operations: PersistedOperations,
                            schema: DocgraphSchema) -> set[str]:
    """The names of the operations in the manifest of trusted documents (none without
    one): every operation a client can run, known before any runs."""
    names = set()
    for text in operations.trusted_texts():
        for definition in parse_document(text, schema.max_tokens).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name is not None:
                names.add(definition.name.value)
    return names


def manifest(texts: Iterable[str], schema: DocgraphSchema) -> dict[str, str]:
    """The manifest (``{sha256: document}``, by hash) of ``texts``; ``ValueError`` naming
    the first document ``schema`` would refuse."""
    documents = {}
    for text in texts:
        problem = document_problem(schema, text)
        if problem is not None:
            first_line = text.strip().splitlines()[0][:80] if text.strip() else "(empty)"
            raise ValueError(f"{first_line!r}: {problem}")
        documents[sha256_hex(text)] = text
    return dict(sorted(documents.items()))
