"""Look one level ahead: which page of documents will be asked of this entity?

``contact(id) { documents(first: 25) { ... } }`` would cost a statement for
the contact and another for its page. Reading the ``documents`` field's
arguments while resolving ``contact`` lets one statement fetch both (see
``get_entity(with_documents=...)``). This is only an optimisation: when the
arguments cannot be read here with certainty (aliases asking for several
pages, directives, fragments), it answers ``None`` and the page is loaded
on its own, with the same result.

The same goes one level further: when the page's documents will be asked for
their links, they load with the page (``selects_document_links``).

And when the executor takes ready-made values (the compiled one) and the page is
asked only for stored values, the database writes the page
(``page_selection``, ``resolvers.rendered_pages``).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from graphql import (
    EnumValueNode,
    FieldNode,
    IntValueNode,
    NullValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from strawberry.types.nodes import get_variable_values
from strawberry.utils.str_converters import to_camel_case

from docgraph.errors import ValidationError
from docgraph.resolvers import records
from docgraph.resolvers import validation as v
from docgraph.resolvers.documents import entity_documents_query
from docgraph.resolvers.loaders import EntityDocumentsQuery
from docgraph.resolvers.pagination import DEFAULT_PAGE_SIZE, PageRequest
from docgraph.resolvers.rendered_pages import (
    DOCUMENT_COLUMNS,
    EDGE_COLUMNS,
    LINK_COLUMNS,
    MAX_KEYS,
    Column,
    Item,
    Links,
    PageSelection,
)
from docgraph.schema.info import Info

_DEFAULTS: dict[str, Any] = {"role": None, "type": None, "status": None, "scanStatus": None,
                             "orderBy": None, "first": DEFAULT_PAGE_SIZE, "after": None,
                             "offset": None}
_ENUMS: dict[str, type[StrEnum]] = {"type": records.DocumentType,
                                    "status": records.DocumentStatus,
                                    "scanStatus": records.ScanStatus,
                                    "orderBy": records.LinkedDocumentOrder}
_UNREADABLE = object()


def _value(info: Info, name: str, node: ValueNode) -> Any:
    if isinstance(node, VariableNode):
        variables = get_variable_values(info._raw_info)
        return variables.get(node.name.value, _DEFAULTS[name])
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, EnumValueNode) and name in _ENUMS:
        return _ENUMS[name][node.value]
    return _UNREADABLE


def documents_query(info: Info, entity_id: Any) -> EntityDocumentsQuery | None:
    """The page the selection's one ``documents`` field asks for, if certain."""
    nodes = info._raw_info.field_nodes
    if len(nodes) == 1:
        known = _known_field(nodes[0])
        fields, query = known.fields, _known_query(info, known, entity_id)
    else:  # the field asked for twice under one key: not kept
        fields = _documents_fields(nodes)
        query = _documents_query(info, entity_id, fields)
    if query is not None and query.selection is not None:
        # The entity's documents field will ask for it.
        info.context.planned_pages[id(fields[0]), query.entity_id] = query
    return query


def _known_query(info: Info, known: _KnownField, entity_id: Any,
                 ) -> EntityDocumentsQuery | None:
    """``_documents_query``'s answer, from the shape kept for these argument values."""
    if len(known.fields) != 1 or known.fields[0].directives:
        return None
    values = []
    for name, node in known.arguments:
        value = _value(info, name, node)
        if value is _UNREADABLE:
            return None
        values.append(value)
    key = (getattr(info.context, "accepts_rendered", False), tuple(values))
    try:
        shape = known.shapes[key]
    except KeyError:
        shape = _documents_query(info, _ANY_ENTITY, known.fields)
        if len(known.shapes) >= SHAPES_KEPT:
            known.shapes.clear()
        known.shapes[key] = shape
    except TypeError:  # an unhashable value: not one these arguments take
        return None
    if shape is None:
        return None
    try:
        return dataclasses.replace(shape, entity_id=v.identifier(entity_id))
    except v.Invalid:
        return None


def _documents_fields(nodes: Sequence[FieldNode]) -> list[FieldNode]:
    return [selection
            for node in nodes if node.selection_set is not None
            for selection in node.selection_set.selections
            if isinstance(selection, FieldNode) and selection.name.value == "documents"]


def _documents_query(info: Info, entity_id: Any,
                     fields: Sequence[FieldNode]) -> EntityDocumentsQuery | None:
    if len(fields) != 1 or fields[0].directives:
        return None
    args = dict(_DEFAULTS)
    for argument in fields[0].arguments or ():
        name = argument.name.value
        if name not in args:
            return None
        value = _value(info, name, argument.value)
        if value is _UNREADABLE:
            return None
        args[name] = value
    try:
        query = entity_documents_query(
            entity_id, role=args["role"], type=args["type"], status=args["status"],
            scan_status=args["scanStatus"], order=args["orderBy"],
            page=PageRequest.parse(args["first"], args["after"], args["offset"]),
            with_links=selects_document_links(fields),
            with_total=may_select(fields, "totalCount"),
            selection=page_selection(info, fields))
    except (ValidationError, KeyError):
        return None
    return query


@dataclasses.dataclass(slots=True)
class _KnownField:
    """An entity field's node, its ``documents`` fields, and the page each set of
    their argument values asks for (of any entity: the request's is put in)."""

    node: FieldNode  # held, so that no other node takes its id while it is known
    fields: list[FieldNode]
    arguments: tuple[tuple[str, ValueNode], ...]
    shapes: dict[tuple[bool, tuple[Any, ...]], EntityDocumentsQuery | None]


# documents_query's work by the entity field's node (parsed documents are cached, and
# so are their nodes): the fields are found once per query text, and each page once
# per set of argument values (a cursor walk's pages each once: at most SHAPES_KEPT).
_KNOWN_FIELDS: OrderedDict[int, _KnownField] = OrderedDict()
SHAPES_KEPT = 64
_ANY_ENTITY = uuid.UUID(int=0)


def _known_field(node: FieldNode) -> _KnownField:
    known = _KNOWN_FIELDS.get(id(node))
    if known is not None and known.node is node:
        _KNOWN_FIELDS.move_to_end(id(node))
        return known
    fields = _documents_fields([node])
    arguments = tuple((a.name.value, a.value) for a in fields[0].arguments or ()) \
        if len(fields) == 1 else ()
    known = _KnownField(node, fields, arguments, {})
    if any(name not in _DEFAULTS for name, _ in arguments):
        known.fields = []  # an argument not read here: never planned
    _KNOWN_FIELDS[id(node)] = known
    if len(_KNOWN_FIELDS) > SELECTIONS_KEPT:
        _KNOWN_FIELDS.popitem(last=False)
    return known


def planned_page(info: Info, entity_id: Any) -> EntityDocumentsQuery | None:
    """The written page ``documents_query`` worked out for this documents field of this
    entity, from the same arguments, when the executor still takes written pages."""
    context = info.context
    fields = info._raw_info.field_nodes
    if not getattr(context, "accepts_rendered", False) or len(fields) != 1:
        return None
    return context.planned_pages.get((id(fields[0]), entity_id))  # type: ignore[no-any-return]


def may_select(connections: Sequence[FieldNode], name: str) -> bool:
    """Whether these selections may ask for the field ``name``: true unless certainly
    not (a fragment there may select it)."""
    for connection in connections:
        for selection in (connection.selection_set.selections
                          if connection.selection_set is not None else ()):
            if not isinstance(selection, FieldNode) or selection.name.value == name:
                return True
    return False


def may_select_on_edges(connections: Sequence[FieldNode], name: str) -> bool:
    """Whether these selections of a connection may ask for the field ``name`` of its
    edges: true unless certainly not (a fragment may select it)."""
    for connection in connections:
        for selection in (connection.selection_set.selections
                          if connection.selection_set is not None else ()):
            if not isinstance(selection, FieldNode):
                return True
            if selection.name.value == "edges" and may_select([selection], name):
                return True
    return False


def selects_document_links(connections: Sequence[FieldNode]) -> bool:
    """Whether these selections of a documents connection ask for each document's
    ``links`` (under ``nodes`` or ``edges { node }``), so that the page can load
    them in its own statement.

    Only fields written out count: fragments are not looked into (their links
    then load on their own, with the same result).
    """
    for connection in connections:
        for field in _fields(connection):
            name = field.name.value
            nodes = [field] if name == "nodes" else \
                [f for f in _fields(field) if f.name.value == "node"] if name == "edges" else []
            if any(f.name.value == "links" for node in nodes for f in _fields(node)):
                return True
    return False


def _fields(node: FieldNode) -> list[FieldNode]:
    if node.selection_set is None:
        return []
    return [s for s in node.selection_set.selections if isinstance(s, FieldNode)]


# The stored values a rendered page may hold, by their GraphQL names.
_DOCUMENT_COLUMNS = {to_camel_case(name): column for name, column in DOCUMENT_COLUMNS.items()}
_LINK_COLUMNS = {to_camel_case(name): column for name, column in LINK_COLUMNS.items()}
_EDGE_COLUMNS = {to_camel_case(name): column for name, column in EDGE_COLUMNS.items()}
_PAGE_INFO = {"hasNextPage": "has_next_page", "hasPreviousPage": "has_previous_page"}


class _Unrenderable(Exception):
    pass


# Selections by the connection's node (parsed documents are cached, and so are their
# nodes): made once per query text. Each entry holds its node, so that no other node
# takes its id while it is here.
_SELECTIONS: OrderedDict[int, tuple[FieldNode, PageSelection | None]] = OrderedDict()
SELECTIONS_KEPT = 512


def page_selection(info: Info, connections: Sequence[FieldNode]) -> PageSelection | None:
    """What this documents connection asks for, when the database can write all of it
    and the executor takes it so: plain fields (no fragment, directive or argument
    below the connection, no key twice), each a stored value."""
    if not getattr(info.context, "accepts_rendered", False) or len(connections) != 1:
        return None
    return connection_selection(connections[0])


def connection_selection(node: FieldNode) -> PageSelection | None:
    """What the documents connection ``node`` asks for, if the database can write it."""
    known = _SELECTIONS.get(id(node))
    if known is not None and known[0] is node:
        _SELECTIONS.move_to_end(id(node))
        return known[1]
    selection = _selection(node)
    _SELECTIONS[id(node)] = (node, selection)
    if len(_SELECTIONS) > SELECTIONS_KEPT:
        _SELECTIONS.popitem(last=False)
    return selection


def _selection(connection: FieldNode) -> PageSelection | None:
    try:
        fields: list[tuple[str, str, Any]] = []
        lists: list[Item] = []
        for key, field in _plain(connection):
            name = field.name.value
            if name == "totalCount":
                fields.append((key, "total_count", None))
            elif name == "edges":
                fields.append((key, "list", len(lists)))
                lists.append(_item(field, _edge_value))
            elif name == "nodes":
                fields.append((key, "list", len(lists)))
                lists.append(_document(field))
            elif name == "pageInfo":
                fields.append((key, "page_info", tuple(
                    (info_key, _PAGE_INFO[info_field.name.value])
                    for info_key, info_field in _plain(field))))
            else:
                raise _Unrenderable
    except (_Unrenderable, KeyError):
        return None
    return PageSelection(tuple(fields), tuple(lists))


def _plain(node: FieldNode) -> list[tuple[str, FieldNode]]:
    """The fields selected below ``node`` with their response keys; unrenderable
    unless each is a plain field, without arguments, asked once."""
    if node.selection_set is None:
        raise _Unrenderable
    fields = []
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            raise _Unrenderable
        fields.append(((selection.alias or selection.name).value, selection))
    if len({key for key, _ in fields}) != len(fields) or len(fields) > MAX_KEYS:
        raise _Unrenderable
    return fields


def _item(node: FieldNode, value: Any) -> Item:
    return Item(tuple((key, value(field)) for key, field in _plain(node)))


def _edge_value(field: FieldNode) -> Column | Item:
    if field.name.value == "node":
        return _document(field)
    return _EDGE_COLUMNS[field.name.value]


def _document(node: FieldNode) -> Item:
    return _item(node, _document_value)


def _document_value(field: FieldNode) -> Column | Links:
    if field.name.value == "links":
        return Links(tuple((key, _LINK_COLUMNS[link.name.value]) for key, link in _plain(field)))
    return _DOCUMENT_COLUMNS[field.name.value]
