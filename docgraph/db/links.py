"""Links between documents and entities: at most one per (document, entity)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from docgraph.db.database import Executor
from docgraph.db.events import link_event

LINK_COLUMNS = "l.id, l.document_id, l.entity_type, l.entity_id, l.role, l.created_at"

SELECT_LINKS_BY_DOCUMENT = f"""
select {LINK_COLUMNS}
from links l
where l.workspace_id = $1 and l.document_id = any($2::uuid[])
order by l.created_at, l.id
"""  # noqa: S608 - composed of constants; values are $n parameters

# Link a live document ($2) to an entity ($3, $4), or find the link that exists.
# One row: whether the document and the entity were found, and the link (null
# columns when either is missing) with ``created`` telling new from existing. A
# new link has its event (document.linked, by the actor $7); finding one has none.
INSERT_LINK = f"""
with doc as (
    select d.id, d.created_at from documents d
    where d.workspace_id = $1 and d.id = $2 and d.deleted_at is null
), ent as (
    select e.id, e.entity_type from entities e
    where e.workspace_id = $1 and e.id = $4 and e.entity_type = $3::text
), inserted as (
    insert into links as l (workspace_id, id, document_id, entity_type, entity_id, role,
                            document_created_at)
    select $1, $5, doc.id, ent.entity_type, ent.id, $6::text, doc.created_at
    from doc cross join ent
    on conflict (workspace_id, document_id, entity_type, entity_id) do nothing
    returning {LINK_COLUMNS}
), event as (
    {link_event("inserted", "'document.linked'", "$7::text")}
)
select exists (select 1 from doc) as document_found,
       exists (select 1 from ent) as entity_found,
       k.*
from (select 1) one
left join (
    select true as created, i.* from inserted i
    union all
    select false as created, {LINK_COLUMNS} from links l
    where l.workspace_id = $1 and l.document_id = $2 and l.entity_type = $3::text
      and l.entity_id = $4
) k on true
"""  # noqa: S608 - composed of constants; values are $n parameters

# Links a bulk load wrote with triggers off lack their document's time (migration
# 0008): complete them, a batch at a time.
COMPLETE_DOCUMENT_TIMES = """
update links l set document_created_at = d.created_at
from documents d
where l.ctid = any(array(select ctid from links where document_created_at is null limit $1))
  and d.workspace_id = l.workspace_id and d.id = l.document_id
"""

# With its event (document.unlinked, by the actor $5).
DELETE_LINK = f"""
with removed as (
    delete from links l
    using documents d
    where l.workspace_id = $1 and l.document_id = $2 and l.entity_type = $3
      and l.entity_id = $4
      and d.workspace_id = $1 and d.id = l.document_id and d.deleted_at is null
    returning {LINK_COLUMNS}
), event as (
    {link_event("removed", "'document.unlinked'", "$5::text")}
)
select * from removed
"""  # noqa: S608 - composed of constants; values are $n parameters


async def select_links_by_document(db: Executor, workspace_id: uuid.UUID,
                                   document_ids: Sequence[uuid.UUID]) -> list[Mapping[str, Any]]:
    return await db.fetch(SELECT_LINKS_BY_DOCUMENT, workspace_id, list(document_ids))


async def insert_link(db: Executor, workspace_id: uuid.UUID, link_id: uuid.UUID, *,
                      document_id: uuid.UUID, entity_type: str, entity_id: uuid.UUID,
                      role: str | None, actor: str) -> Mapping[str, Any]:
    row = await db.fetchrow(INSERT_LINK, workspace_id, document_id, entity_type, entity_id,
                            link_id, role, actor)
    assert row is not None
    return row


async def delete_link(db: Executor, workspace_id: uuid.UUID, *, document_id: uuid.UUID,
                      entity_type: str, entity_id: uuid.UUID,
                      actor: str) -> Mapping[str, Any] | None:
    return await db.fetchrow(DELETE_LINK, workspace_id, document_id, entity_type, entity_id,
                             actor)


async def complete_document_times(db: Executor | asyncpg.Connection,
                                  batch: int = 10_000) -> int:
    """Give every link its document's time (see COMPLETE_DOCUMENT_TIMES); how many."""
    total = 0
    while True:
        done = int((await db.execute(COMPLETE_DOCUMENT_TIMES, batch)).split()[-1])
        total += done
        if done < batch:  # the last batch (or rows whose document is gone)
            return total
