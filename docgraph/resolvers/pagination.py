"""Pages of lists: offset or cursor, one request type, one page shape.

Every list is ordered newest first by ``(created_at, id)`` of its items (the
events of the audit trail by ``(occurred_at, seq)``). A request asks for
``limit`` items either after ``offset`` items or after a cursor (an opaque
token naming the sort key of the last item seen, so inserts at the top never
shift the next page). Each page carries the list's total, how many items
precede it, and cursors for every item.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from docgraph.errors import ValidationError
from docgraph.resolvers import validation
from docgraph.resolvers.records import (
    DocumentRecord,
    EventRecord,
    LinkRecord,
    Page,
    PageInfo,
)

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_OFFSET = 2**31 - 1
_CURSOR_MAX = 200
# The largest sequence number an event cursor may name (a bigint).
_SEQ_MAX = 2**63 - 1
# The instants a cursor may name, in UTC: asyncpg converts a time to UTC with
# Python's datetime (years 1-9999; beyond, it raises), and sends the two ends
# themselves as -infinity and +infinity. PostgreSQL's own range is wider.
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
N = TypeVar("N")


class CursorOrder(enum.Enum):
    """The order of the list a cursor comes from (the value is its version tag)."""

    CREATED = "v1"  # items by their own time and id
    LINKED = "l1"  # an entity's documents in the order they were linked: the link's
    EVENTS = "e1"  # events by their time and sequence number


_ORDERS = {order.value: order for order in CursorOrder}


def encode_token(*parts: str) -> str:
    """An opaque cursor: ``parts`` joined by ``|``, in URL-safe base64 without padding."""
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_token(token: Any) -> list[str]:
    """The parts of a cursor ``encode_token`` made; ``ValueError`` for anything else."""
    if not isinstance(token, str) or not 0 < len(token) <= _CURSOR_MAX:
        raise ValueError("not a cursor")
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split("|")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor") from exc


def parse_time(stamp: str) -> datetime:
    """A cursor's time: ISO 8601 with its offset, within what a datetime holds in UTC."""
    created_at = datetime.fromisoformat(stamp)
    if created_at.tzinfo is None or not _EARLIEST < created_at.astimezone(UTC) < _LATEST:
        raise ValueError(stamp)
    return created_at


@dataclasses.dataclass(frozen=True, slots=True)
class Cursor:
    """The sort key of the item a page starts after: a time and an id (a UUID; an
    event's sequence number for ``CursorOrder.EVENTS``)."""

    created_at: datetime
    id: uuid.UUID | int
    order: CursorOrder = CursorOrder.CREATED

    @property
    def by_link_time(self) -> bool:
        return self.order is CursorOrder.LINKED

    def encode(self) -> str:
        return encode_token(self.order.value, self.created_at.isoformat(), str(self.id))

    @classmethod
    def decode(cls, token: Any) -> Cursor:
        try:
            version, stamp, ident = decode_token(token)
            created_at = parse_time(stamp)
            order = _ORDERS[version]
            key: uuid.UUID | int
            if order is CursorOrder.EVENTS:
                if not ident.isdigit() or not 0 < int(ident) <= _SEQ_MAX:
                    raise ValueError(ident)
                key = int(ident)
            else:
                key = uuid.UUID(ident)
            return cls(created_at, key, order)
        except (ValueError, KeyError, OverflowError):
            raise validation.Invalid("must be a cursor returned by this API") from None


def cursor_of(item: Any) -> str:
    """The cursor naming an item of a list (its sort key), encoded."""
    return Cursor(item.created_at, item.id).encode()


# Edges encode their cursor only when it is asked for: most queries never read it.
@dataclasses.dataclass(frozen=True, slots=True)
class Edge(Generic[N]):
    node: N

    @property
    def cursor(self) -> str:
        return cursor_of(self.node)


@dataclasses.dataclass(frozen=True, slots=True)
class EventEdge:
    """An event in the audit trail: its cursor names its time and sequence number."""

    node: EventRecord

    @property
    def cursor(self) -> str:
        return Cursor(self.node.occurred_at, self.node.seq, CursorOrder.EVENTS).encode()


@dataclasses.dataclass(slots=True, eq=False)
class LinkedDocumentEdge:
    """A document in an entity's list, with the link that put it there (seed 000)."""

    node: DocumentRecord
    link: LinkRecord
    by_link_time: bool = False  # the list's order: its cursor names the link

    @property
    def cursor(self) -> str:
        if self.by_link_time:
            return Cursor(self.link.created_at, self.link.id, CursorOrder.LINKED).encode()
        return cursor_of(self.node)

    @property
    def role(self) -> str | None:
        return self.link.role

    @property
    def linked_at(self) -> datetime:
        return self.link.created_at


C = TypeVar("C")


def decode_after(after: Any, offset: Any, decode: Callable[[Any], C],
                 names: Mapping[str, str], problems: dict[str, str]) -> C | None:
    """The cursor ``after`` (None: not given), by ``decode``; a bad one, or one given
    with ``offset``, is noted in ``problems`` under the caller's ``names``."""
    if after is None:
        return None
    cursor = None
    try:
        cursor = decode(after)
    except validation.Invalid as exc:
        problems[names["after"]] = exc.message
    if offset is not None:
        problems[names["offset"]] = f"cannot be combined with {names['after']}"
    return cursor


@dataclasses.dataclass(frozen=True, slots=True)
class PageRequest:
    """``limit`` items, after ``offset`` items or after the ``after`` cursor."""

    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    after: Cursor | None = None

    @classmethod
    def parse(cls, first: Any = None, after: Any = None, offset: Any = None, *,
              default_limit: int = DEFAULT_PAGE_SIZE,
              names: Mapping[str, str] | None = None) -> PageRequest:
        """Validate a caller's paging arguments; ``None`` means not given.

        ``names`` renames the fields in error details (REST says ``limit`` or
        ``per_page`` where GraphQL says ``first``).
        """
        names = {"first": "first", "after": "after", "offset": "offset", **(names or {})}
        problems: dict[str, str] = {}
        limit = default_limit
        if first is not None:
            if isinstance(first, bool) or not isinstance(first, int):
                problems[names["first"]] = "must be an integer"
            elif not 0 <= first <= MAX_PAGE_SIZE:
                problems[names["first"]] = f"must be between 0 and {MAX_PAGE_SIZE}"
            else:
                limit = first
        skip = 0
        if offset is not None:
            if isinstance(offset, bool) or not isinstance(offset, int):
                problems[names["offset"]] = "must be an integer"
            elif not 0 <= offset <= MAX_OFFSET:
                problems[names["offset"]] = f"must be between 0 and {MAX_OFFSET}"
            else:
                skip = offset
        cursor = decode_after(after, offset, Cursor.decode, names, problems)
        if problems:
            raise validation.fail(problems)
        return cls(limit=limit, offset=skip, after=cursor)

    @classmethod
    def parse_page_number(cls, page: Any = None, per_page: Any = None, *,
                          default_per_page: int = DEFAULT_PAGE_SIZE) -> PageRequest:
        """Page-number paging (seed 000): page ``page`` (from 1) of ``per_page`` items."""
        problems: dict[str, str] = {}
        limit = default_per_page
        try:
            limit = cls.parse(per_page, default_limit=default_per_page,
                              names={"first": "per_page"}).limit
        except ValidationError as exc:
            problems.update(exc.details["fields"])
        number = 1
        if page is not None:
            if isinstance(page, bool) or not isinstance(page, int):
                problems["page"] = "must be an integer"
            elif page < 1:
                problems["page"] = "must be at least 1"
            elif (page - 1) * limit > MAX_OFFSET:
                problems["page"] = f"is too far: (page - 1) * per_page must be at most {MAX_OFFSET}"
            else:
                number = page
        if problems:
            raise validation.fail(problems)
        return cls(limit=limit, offset=(number - 1) * limit)

    def in_order(self, *, by_link_time: bool = False,
                 order: CursorOrder | None = None) -> PageRequest:
        """This request, for a list in this order (``order``; else by link time or
        not): a cursor of another order (an entity's documents by link time, say, or
        another list's) is a ``validation_error``."""
        if order is None:
            order = CursorOrder.LINKED if by_link_time else CursorOrder.CREATED
        if self.after is not None and self.after.order is not order:
            raise validation.fail({"after": "is a cursor of the list in another order"})
        return self

    @property
    def after_created_at(self) -> datetime | None:
        return self.after.created_at if self.after else None

    @property
    def after_id(self) -> uuid.UUID | None:
        """The cursor's id, of a list whose items have UUIDs (see ``in_order``)."""
        ident = self.after.id if self.after else None
        return ident if isinstance(ident, uuid.UUID) else None

    @property
    def after_seq(self) -> int | None:
        """The cursor's sequence number, of the events' list (see ``in_order``)."""
        ident = self.after.id if self.after else None
        return ident if isinstance(ident, int) else None




def build_page(request: PageRequest, edges: Sequence[Any], *,
                      total_count: int | None, has_preceding: bool | None) -> Page[Any]:
    """A page from up to ``limit + 1`` edges (one more than the page: there is a next
    page) and what the statement counted: the total, if asked for, and after a cursor,
    whether any item precedes it."""
    has_next = len(edges) > request.limit
    edges = list(edges[:request.limit])
    after = request.after is not None
    return Page(
        edges=edges,
        total_count=total_count,
        offset=None if after else request.offset,
        limit=request.limit,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=bool(has_preceding) if after else request.offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
