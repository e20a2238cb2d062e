"""A page of an entity's documents rendered as JSON by PostgreSQL itself.

``entity_document_pages`` returns rows that the server turns into records and
then into a response: for a page of 25 documents with their links, decoding
the rows, building the records and filling the response cost the server more
than the statement costs the database. When the query asks only for values
that are columns, the database can write those parts of the response itself:
``entity_document_page_json`` reads the same page (the same filters, order,
page and counts: ``entity_page_parts``) and aggregates its rows into one JSON
array per list the query selects, each item an object with the query's keys
in its order. For several entities it wraps ``entity_document_pages``; for
one, the page is aggregated where it is read, from only the columns written.

The arrays are written as text, compact, exactly as the response's encoder
(orjson) writes the same values, so the server puts them in the response as
they are, unparsed. They are concatenated rather than built with
``json_build_object``: that looks up each argument's output function on every
call, and costs PostgreSQL more than the text (0.07 ms a page of 25).

What each value looks like is declared by its :class:`Form`, and the forms
write exactly what the GraphQL serializers write for the same values (a test
compares the two answers byte for byte).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

import orjson

from docgraph.db.database import Executor
from docgraph.db.documents import (
    DOCUMENT_COLUMNS,
    EntityPageShape,
    entity_document_pages,
    entity_page_arguments,
    entity_page_parts,
)


class Form(Enum):
    """How a column's value is written in JSON."""

    PLAIN = "plain"  # text, numbers, booleans, UUIDs and text arrays, as PostgreSQL writes them
    TIMESTAMP = "timestamp"  # ISO 8601 in UTC as Python's isoformat: +00:00, µs unless zero
    UUID = "uuid"  # a uuid column, written as its text (nothing in it to escape)


class HashedOnce:
    """A frozen dataclass's hash, computed when it is made: these trees are keys of
    the request's loaders and of the statements' cache, looked up several times a
    request (an enumeration's own hash is Python code)."""

    __slots__ = ()

    def __post_init__(self) -> None:
        values = tuple(getattr(self, f.name) for f in dataclasses.fields(self)  # type: ignore[arg-type]
                       if f.compare)
        object.__setattr__(self, "_hash", hash(values))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined, no-any-return]


@dataclasses.dataclass(frozen=True, slots=True)
class Column(HashedOnce):
    """A column of the page's rows, written in ``form``; an enumeration's values are
    written as the names ``names`` gives them (database value, name)."""

    name: str
    form: Form = Form.PLAIN
    names: tuple[tuple[str, str], ...] | None = None
    _hash: int = dataclasses.field(init=False, repr=False, compare=False)
    __hash__ = HashedOnce.__hash__


@dataclasses.dataclass(frozen=True, slots=True)
class Links(HashedOnce):
    """Every link of the row's document, oldest first, as objects of ``fields``
    (columns of ``links``)."""

    fields: tuple[tuple[str, Column], ...]
    _hash: int = dataclasses.field(init=False, repr=False, compare=False)
    __hash__ = HashedOnce.__hash__


@dataclasses.dataclass(frozen=True, slots=True)
class Item(HashedOnce):
    """An object made of each row: ``(key, value)`` in the response's order, a value a
    column, the document's links, or an object (the edge's ``node``) made of the
    same row."""

    fields: tuple[tuple[str, Column | Links | Item], ...]
    _hash: int = dataclasses.field(init=False, repr=False, compare=False)
    __hash__ = HashedOnce.__hash__


# The columns an item may name: the document's, and the link that put it on the page.
DOCUMENT_COLUMN_NAMES = frozenset(re.findall(r"d\.(\w+)", DOCUMENT_COLUMNS))
ROW_COLUMNS = DOCUMENT_COLUMN_NAMES | {"link_id", "link_role", "link_created_at"}
LINK_COLUMNS = frozenset({"id", "document_id", "entity_type", "entity_id", "role",
                          "created_at"})

# A bound on the statement a query can make (aliases can repeat a field at will).
MAX_KEYS = 50

_OWNER_COLUMNS = ("owner_name", "owner_attributes", "owner_created_at", "owner_updated_at",
                  "total_count", "has_preceding")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value(column: Column, source: str) -> str:
    """An expression of the column's value as JSON text (``null`` for NULL)."""
    if column.name not in (LINK_COLUMNS if source == "k" else ROW_COLUMNS):
        raise ValueError(f"not a column of the page: {column.name}")
    expression = f"{source}.{column.name}"
    if column.names is not None:
        cases = " ".join(f"when {_literal(value)} then {_literal(_json(name))}"
                         for value, name in column.names)
        return f"(case {expression} {cases} else 'null' end)"
    if column.form is Form.TIMESTAMP:  # (a whole second has no fraction: .000000 goes)
        return (f"""coalesce('"' || replace(to_char({expression} at time zone 'UTC', """
                """'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000', '') || '+00:00"', 'null')""")
    if column.form is Form.UUID:
        return f"""coalesce('"' || {expression}::text || '"', 'null')"""
    # to_json writes strings as orjson does (the same escapes, and UTF-8 as it is),
    # arrays and objects without spaces.
    return f"coalesce(to_json({expression})::text, 'null')"


def _json(value: str) -> str:
    return orjson.dumps(value).decode()


def _object(item: Item, source: str) -> str:
    if len(item.fields) > MAX_KEYS:
        raise ValueError(f"an object of at most {MAX_KEYS} keys")
    parts = []
    for index, (key, value) in enumerate(item.fields):
        if isinstance(value, Item):
            rendered = _object(value, source)
        elif isinstance(value, Links):
            # Read from the links themselves, in the order of their index (migration
            # 0017) as SELECT_LINKS_BY_DOCUMENT orders them, and aggregated in that
            # order: cheaper than aggregating them into arrays and taking these apart
            # again, and than sorting each document's links in the aggregate.
            link = _object(Item(tuple(value.fields)), "k")
            rendered = (f"(select '[' || coalesce(string_agg({link}, ','), '') || ']' "  # noqa: S608
                        "from (select k.* from links k "
                        f"where k.workspace_id = $1 and k.document_id = {source}.id "
                        "order by k.created_at, k.id) k)")
        else:
            rendered = _value(value, source)
        parts += [_literal(("{" if index == 0 else ",") + _json(key) + ":"), rendered]
    return "(" + " || ".join(parts) + " || '}')" if parts else "'{}'"


def _parameters(statement: str) -> int:
    return max(int(n) for n in re.findall(r"\$(\d+)", statement))


def _document_columns(items: Sequence[Item]) -> str:
    """The document's columns the items write, and its id (which reads its links)."""
    names = {"id"}
    pending = list(items)
    while pending:
        for _, value in pending.pop().fields:
            if isinstance(value, Item):
                pending.append(value)
            elif isinstance(value, Column) and value.name in DOCUMENT_COLUMN_NAMES:
                names.add(value.name)
    return ", ".join(f"d.{name}" for name in sorted(names))


def _lists(lists: tuple[Item, ...], size: str) -> list[str]:
    return [f"'[' || coalesce(string_agg({_object(item, 'r')}, ',' order by r.page_position) "
            f"filter (where r.id is not null and r.page_position <= {size}), '') || ']' "
            f"as list_{i}"
            for i, item in enumerate(lists)]


@functools.lru_cache(maxsize=256)
def entity_document_page_json(shape: EntityPageShape, lists: tuple[Item, ...]) -> str:
    """``entity_document_pages`` with each owner's page as JSON: a row per owner, with
    its columns, ``list_0``, ``list_1``… one array (compact JSON text) of
    ``lists[i]`` per item of the page, and ``page_rows``, how many rows were read
    (the page's size plus one: there is a next page).

    Its parameters are ``entity_document_pages``'s, then the page's size (when it has
    lists). An unknown owner gives no row.
    """
    if shape.one_owner:
        return _one_owner_page_json(shape, lists)
    inner = entity_document_pages(shape, positions=True)
    size = f"${_parameters(inner) + 1}"
    owner = ",\n       ".join(
        f"(array_agg(r.{column}) filter (where r.page_position = 1))[1] as {column}"
        for column in _OWNER_COLUMNS)
    arrays = ",\n       ".join(_lists(lists, size))
    # Every piece is one of this module's constants or a declared column; values are
    # $n parameters.
    return f"""
select r.owner_id, r.owner_entity_type,
       {owner},
       count(r.id) as page_rows{"," if arrays else ""}
       {arrays}
from ({inner}) r
group by r.owner_id, r.owner_entity_type
"""  # noqa: S608


def _one_owner_page_json(shape: EntityPageShape, lists: tuple[Item, ...]) -> str:
    """The statement for one owner: its page aggregated where it is read, with only the
    columns the lists write (no window over the owner's rows, no sort of wide rows:
    a tenth less of PostgreSQL's time than wrapping ``entity_document_pages``)."""
    parts = entity_page_parts(shape, _document_columns(lists))
    size = f"${parts.parameters + 1}"
    counted = (",\n           max(r.page_total) as page_total"
               + (", bool_or(r.page_preceding) as page_preceding" if parts.precedes else "")
               if parts.counts_itself else "")
    arrays = "".join(",\n           " + array for array in _lists(lists, size))
    total = parts.count if shape.with_total else "null::bigint"
    precedes = parts.precedes or "null::boolean"
    # The page's rows are numbered as its subquery orders them. Every piece is one of
    # this module's constants, entity_page_parts' or a declared column; values are $n
    # parameters.
    return f"""
select o.id as owner_id, o.entity_type as owner_entity_type, o.name as owner_name,
       o.attributes as owner_attributes, o.created_at as owner_created_at,
       o.updated_at as owner_updated_at, {total} as total_count,
       {precedes} as has_preceding, p.page_rows{"".join(f", p.list_{i}" for i in range(len(lists)))}
from entities o
left join lateral (
    select count(*) as page_rows{counted}{arrays}
    from (select q.*, row_number() over () as page_position from ({parts.page}
    ) q) r
) p on true
where o.workspace_id = $1 and o.id = $2::uuid
"""  # noqa: S608


async def select_entity_document_page_json(
    db: Executor, workspace_id: uuid.UUID, owner_ids: Sequence[uuid.UUID],
    lists: tuple[Item, ...], *, role: str | None, type: str | None, status: str | None,
    by_link_time: bool, after: tuple[datetime, uuid.UUID] | None, offset: int, limit: int,
    with_total: bool, scan_statuses: Sequence[str] | None,
) -> list[Mapping[str, Any]]:
    """The rows of ``entity_document_page_json``: one per owner found."""
    shape, args = entity_page_arguments(
        workspace_id, owner_ids, role=role, type=type, status=status,
        by_link_time=by_link_time, after=after, with_links=False, with_total=with_total,
        scan_statuses=scan_statuses)
    size = (limit,) if lists else ()  # (a statement without lists has no use for it)
    rows = await db.fetch(entity_document_page_json(shape, lists), *args, offset, limit + 1,
                          *size)
    return [row for row in rows if row["owner_id"] is not None]
