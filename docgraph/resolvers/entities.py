"""Entity use cases: contacts, companies (GraphQL's businesses), deals, events, matters, tasks.

Contacts and companies always have a name; the other types may go without.
A caller may choose an entity's id (the id it has in the caller's own
system) so links can name it directly; a taken id is a ``Conflict``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from docgraph.db import entities as entities_db
from docgraph.errors import NotFound
from docgraph.resolvers import resources
from docgraph.resolvers import validation as v
from docgraph.resolvers.auth import READ_DOCUMENTS, WRITE_DOCUMENTS
from docgraph.resolvers.loaders import EntityDocumentsQuery
from docgraph.resolvers.pagination import Edge, PageRequest, build_page
from docgraph.resolvers.records import EntityRecord, EntityType, Page

if TYPE_CHECKING:
    from docgraph.resolvers.context import RequestContext

NAMED_TYPES = frozenset({EntityType.CONTACT, EntityType.COMPANY})

# The type is named apart: by the path (REST), the mutation or an argument (GraphQL).
_CREATE = resources.ENTITY_CREATE.without("entity_type")


def _not_found(entity_type: EntityType | None) -> NotFound:
    return NotFound(f"No such {entity_type or 'entity'}.")


def _name_required() -> v.ValidationError:
    return v.fail({"name": "is required for contacts and companies"})


def _remember(ctx: RequestContext, entity: EntityRecord) -> EntityRecord:
    ctx.loaders.entity_by_id.clear(entity.id).prime(entity.id, entity)
    return entity


async def get_entity(ctx: RequestContext, entity_id: Any, entity_type: Any = None, *,
                     with_documents: EntityDocumentsQuery | None = None) -> EntityRecord | None:
    """An entity of the caller's workspace (of ``entity_type``, if given), or ``None``.

    ``with_documents`` (a page of this entity's documents the caller will ask
    for next) reads the entity and that page in one statement.
    """
    ctx.principal.require(READ_DOCUMENTS)
    kind = v.check("entity_type", v.nullable(v.entity_type), entity_type)
    ident = v.check("id", v.identifier, entity_id)
    if with_documents is not None and with_documents.entity_id == ident:
        await ctx.document_page_by_entity.load(with_documents)  # primes entity_by_id
    entity = await ctx.entity_by_id.load(ident)
    if entity is None or (kind is not None and entity.entity_type is not kind):
        return None
    return entity


async def require_entity(ctx: RequestContext, entity_id: Any,
                         entity_type: Any = None) -> EntityRecord:
    """Like :func:`get_entity`, but an unknown entity is ``NotFound`` (REST's 404)."""
    ctx.principal.require(READ_DOCUMENTS)
    kind = v.check("entity_type", v.nullable(v.entity_type), entity_type)
    return await _load_entity(ctx, v.check("id", v.identifier, entity_id), kind)


async def _load_entity(ctx: RequestContext, entity_id: uuid.UUID,
                       kind: EntityType | None) -> EntityRecord:
    """The entity or ``NotFound``, for use cases that checked their own scope."""
    entity = await ctx.loaders.entity_by_id.load(entity_id)
    if entity is None or (kind is not None and entity.entity_type is not kind):
        raise _not_found(kind)
    return entity


async def create_entity(ctx: RequestContext, entity_type: Any,
                        fields: Mapping[str, Any]) -> EntityRecord:
    """Create an entity: ``fields`` are ``name``, ``attributes`` and optionally ``id``."""
    ctx.principal.require(WRITE_DOCUMENTS)
    kind = v.check("entity_type", v.entity_type, entity_type)
    new = _CREATE.parse(fields)
    if kind in NAMED_TYPES and new.get("name") is None:
        raise _name_required()
    row = await entities_db.insert_entity(
        ctx.db, ctx.workspace_id, new.get("id") or uuid.uuid4(), entity_type=kind,
        name=new.get("name"), attributes=new.get("attributes", {}),
        actor=ctx.principal.actor,
    )
    return _remember(ctx, EntityRecord.from_row(row))


async def update_entity(ctx: RequestContext, entity_id: Any, changes: Mapping[str, Any],
                        entity_type: Any = None) -> EntityRecord:
    """Change an entity's ``name`` and/or ``attributes`` (replaced, not merged).

    With ``entity_type``, an entity of another type is ``NotFound``. No
    change at all answers the entity as it is: a read, which needs
    ``read:documents`` too (refused before any lookup).
    """
    ctx.principal.require(WRITE_DOCUMENTS)
    kind = v.check("entity_type", v.nullable(v.entity_type), entity_type)
    ident = v.check("id", v.identifier, entity_id)
    cleaned = resources.ENTITY_UPDATE.parse(changes)
    if not cleaned:
        ctx.principal.require(READ_DOCUMENTS)
        return await _load_entity(ctx, ident, kind)
    if "name" in cleaned and cleaned["name"] is None:
        current = await _load_entity(ctx, ident, kind)
        if current.entity_type in NAMED_TYPES:
            raise _name_required()
    row = await entities_db.update_entity(ctx.db, ctx.workspace_id, ident, cleaned, kind,
                                          actor=ctx.principal.actor)
    if row is None:
        raise _not_found(kind)
    return _remember(ctx, EntityRecord.from_row(row))


async def list_entities(ctx: RequestContext, *, entity_type: Any = None,
                        name_contains: Any = None, page: PageRequest | None = None,
                        with_total: bool = True) -> Page[Edge[EntityRecord]]:
    """The workspace's entities (of one type, or whose name contains a text), newest
    first (the total counted only ``with_total``)."""
    ctx.principal.require(READ_DOCUMENTS)
    page = (page or PageRequest()).in_order()
    f = v.parse_fields({"entity_type": entity_type, "name_contains": name_contains},
                       {"entity_type": v.nullable(v.entity_type),
                        "name_contains": v.nullable(v.search_text)})
    rows = await entities_db.select_entity_page(
        ctx.db, ctx.workspace_id, entity_type=f["entity_type"],
        name_contains=f["name_contains"], after_created_at=page.after_created_at,
        after_id=page.after_id, offset=page.offset, limit=page.limit,
        with_total=with_total,
    )
    entities = [EntityRecord.from_row(row) for row in rows if row["id"] is not None]
    for entity in entities:
        ctx.entity_by_id.prime(entity.id, entity)
    return build_page(page, [Edge(entity) for entity in entities],
                      total_count=rows[0]["total_count"],
                      has_preceding=rows[0]["has_preceding"])
