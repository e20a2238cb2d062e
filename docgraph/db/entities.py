"""Entities: contacts, companies, deals, events, matters and tasks."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from docgraph.db.database import Executor
from docgraph.db.events import entity_event
from docgraph.errors import Conflict

ENTITY_COLUMNS = "e.id, e.entity_type, e.name, e.attributes, e.created_at, e.updated_at"

# With its event (entity.created, by the actor $6).
INSERT_ENTITY = f"""
with inserted as (
    insert into entities as e (workspace_id, id, entity_type, name, attributes)
    values ($1, $2, $3, $4, $5)
    returning {ENTITY_COLUMNS}
), event as (
    {entity_event("inserted", "'entity.created'", "$6::text")}
)
select * from inserted
"""  # noqa: S608 - composed of constants; values are $n parameters

SELECT_ENTITIES_BY_ID = f"""
select {ENTITY_COLUMNS} from entities e where e.workspace_id = $1 and e.id = any($2::uuid[])
"""  # noqa: S608 - composed of constants; values are $n parameters

# Each field changes only when its flag is true; $7 (if given) must be the entity's type.
# With its event (entity.updated, by the actor $8).
UPDATE_ENTITY = f"""
with updated as (
    update entities as e set
        name = case when $3 then $4::text else e.name end,
        attributes = case when $5 then $6::jsonb else e.attributes end,
        updated_at = now()
    where e.workspace_id = $1 and e.id = $2 and ($7::text is null or e.entity_type = $7::text)
    returning {ENTITY_COLUMNS}
), event as (
    {entity_event("updated", "'entity.updated'", "$8::text")}
)
select * from updated
"""  # noqa: S608 - composed of constants; values are $n parameters

_ENTITY_FILTER = """
    e.workspace_id = $1
    and ($2::text is null or e.entity_type = $2::text)
    and ($3::text is null or strpos(lower(e.name), lower($3::text)) > 0)"""

# As documents.SELECT_DOCUMENT_PAGE: $7 the page's size plus one, $8 whether to count.
SELECT_ENTITY_PAGE = f"""
select (select count(*) from entities e where $8 and {_ENTITY_FILTER}) as total_count,
       $4::timestamptz is not null and exists (
           select 1 from entities e
           where {_ENTITY_FILTER}
             and (e.created_at, e.id) >= ($4::timestamptz, $5::uuid)) as has_preceding,
       p.*
from (select 1) one
left join lateral (
    select {ENTITY_COLUMNS}
    from entities e
    where {_ENTITY_FILTER}
      and ($4::timestamptz is null or (e.created_at, e.id) < ($4::timestamptz, $5::uuid))
    order by e.created_at desc, e.id desc
    offset $6 limit $7
) p on true
order by p.created_at desc, p.id desc
"""  # noqa: S608 - composed of constants; values are $n parameters


async def insert_entity(db: Executor, workspace_id: uuid.UUID, entity_id: uuid.UUID, *,
                        entity_type: str, name: str | None,
                        attributes: Mapping[str, Any], actor: str) -> Mapping[str, Any]:
    """Insert one entity (and its event, by ``actor``); an id the workspace already uses
    is a conflict."""
    try:
        row = await db.fetchrow(INSERT_ENTITY, workspace_id, entity_id, entity_type, name,
                                attributes, actor)
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("An entity with this id already exists.",
                       details={"id": str(entity_id)}) from exc
    assert row is not None
    return row


async def select_entities_by_id(db: Executor, workspace_id: uuid.UUID,
                                ids: Sequence[uuid.UUID]) -> list[Mapping[str, Any]]:
    return await db.fetch(SELECT_ENTITIES_BY_ID, workspace_id, list(ids))


async def update_entity(db: Executor, workspace_id: uuid.UUID, entity_id: uuid.UUID,
                        changes: Mapping[str, Any], entity_type: str | None = None, *,
                        actor: str) -> Mapping[str, Any] | None:
    return await db.fetchrow(UPDATE_ENTITY, workspace_id, entity_id,
                             "name" in changes, changes.get("name"),
                             "attributes" in changes, changes.get("attributes"), entity_type,
                             actor)


async def select_entity_page(db: Executor, workspace_id: uuid.UUID, *, entity_type: str | None,
                             name_contains: str | None, after_created_at: datetime | None,
                             after_id: uuid.UUID | None, offset: int, limit: int,
                             with_total: bool = True) -> list[Mapping[str, Any]]:
    """Up to ``limit + 1`` rows, each with ``total_count`` and ``has_preceding`` (see
    documents.select_document_page)."""
    return await db.fetch(SELECT_ENTITY_PAGE, workspace_id, entity_type, name_contains,
                          after_created_at, after_id, offset, limit + 1, with_total)
