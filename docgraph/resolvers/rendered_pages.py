"""An entity's page of documents written by the database, for queries that ask
only for stored values (``db.page_json``).

A query such as ``contact(id) { documents { totalCount edges { role linkedAt
node { id name createdAt links { entityType entityId } } } } }`` asks for
nothing the server computes: every value is a column of the page's rows,
written as the schema writes it. For such a query the page is one statement
whose lists come back as JSON, and the connection is assembled around them
(:class:`RenderedPage`) instead of being built record by record. The faces
decide when a selection qualifies (``schema.lookahead``), from the columns
declared here; anything else takes the usual path, with the same answer.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import orjson

from docgraph.db import page_json
from docgraph.db.page_json import MAX_KEYS, Column, Form, HashedOnce, Item, Links
from docgraph.resolvers import resources as r
from docgraph.resolvers.fields import Field, GraphQLType, Kind
from docgraph.resolvers.records import EntityRecord

__all__ = ["DOCUMENT_COLUMNS", "EDGE_COLUMNS", "LINK_COLUMNS", "MAX_KEYS", "Column", "Item",
           "Links", "PageSelection", "RenderedDocuments", "RenderedPage", "render"]

_PLAIN = frozenset({GraphQLType.ID, GraphQLType.STRING, GraphQLType.INT,
                    GraphQLType.SAFE_INT, GraphQLType.BOOLEAN})


def _column(field: Field) -> Column | None:
    """How a field is written from its column, if it is one the database can write."""
    kind: Kind = field.kind
    graphql = kind.graphql
    if graphql is GraphQLType.ID and not kind.list_of:  # every stored id is a uuid
        return Column(field.name, Form.UUID)
    if graphql in _PLAIN:
        return Column(field.name)
    if graphql is GraphQLType.DATETIME and not kind.list_of:
        return Column(field.name, Form.TIMESTAMP)
    if isinstance(graphql, type) and issubclass(graphql, enum.Enum) and not kind.list_of:
        return Column(field.name,
                      names=tuple((member.value, member.name) for member in graphql))
    return None


# A document's fields that are its columns, by field name.
DOCUMENT_COLUMNS: dict[str, Column] = {
    field.name: column for field in r.DOCUMENT.fields
    if field.name in page_json.DOCUMENT_COLUMN_NAMES
    and (column := _column(field)) is not None}
# A link's fields that are its columns (each document's links are read from ``links``).
LINK_COLUMNS: dict[str, Column] = {
    field.name: column for field in r.LINK.fields
    if field.name in page_json.LINK_COLUMNS and (column := _column(field)) is not None}
# An edge's own fields: the link that put the document on the entity's list.
EDGE_COLUMNS: dict[str, Column] = {
    "role": Column("link_role"),
    "linked_at": Column("link_created_at", Form.TIMESTAMP),
}


@dataclasses.dataclass(frozen=True, slots=True)
class PageSelection(HashedOnce):
    """What a query asks of a connection, in its order: ``(key, part, detail)`` with
    ``part`` one of ``total_count``, ``list`` (``detail``: the index of its item in
    ``lists``) and ``page_info`` (``detail``: its ``(key, part)``, each part
    ``has_next_page`` or ``has_previous_page``)."""

    fields: tuple[tuple[str, str, Any], ...]
    lists: tuple[Item, ...]
    _hash: int = dataclasses.field(init=False, repr=False, compare=False)
    __hash__ = HashedOnce.__hash__


@dataclasses.dataclass(frozen=True, slots=True)
class RenderedPage:
    """A connection's response, made: the value to put in the answer as it is (each
    request's own: the answer may be changed after). Its lists are JSON text
    (``orjson.Fragment``), which only the response's encoder reads."""

    value: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class RenderedDocuments:
    """An entity and one page of its documents, written by the database."""

    owner: EntityRecord
    page: RenderedPage


def render(selection: PageSelection, row: Any, *, limit: int, offset: int,
           after: bool) -> RenderedPage:
    """The connection ``selection`` asks for, from a row of ``entity_document_page_json``
    (``limit``, ``offset`` and ``after``: the page asked for, as ``build_page`` reads
    them)."""
    value: dict[str, Any] = {}
    for key, part, detail in selection.fields:
        if part == "total_count":
            value[key] = row["total_count"]
        elif part == "list":
            value[key] = orjson.Fragment(row[f"list_{detail}"])  # encoded as it is
        else:
            info: dict[str, Any] = {}
            for info_key, info_part in detail:
                if info_part == "has_next_page":
                    info[info_key] = row["page_rows"] > limit
                else:
                    info[info_key] = bool(row["has_preceding"]) if after else offset > 0
            value[key] = info
    return RenderedPage(value)
