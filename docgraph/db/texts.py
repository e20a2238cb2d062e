"""The text extracted from documents: the extraction job's claims and results, and the
text itself (``document_texts``). The search vector is rebuilt by the documents'
trigger (migration 0010) whenever a statement here sets its text part."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from docgraph.db.database import Database, Executor
from docgraph.db.documents import DOCUMENT_COLUMNS
from docgraph.db.events import document_event

# The bytes may be read: a scanner found them clean, or none looks at them.
_READABLE = "scan_status in ('not_scanned', 'clean')"

# The job takes a live, pending document whose bytes may be read and that no other
# job holds (or whose holder was lost: its claim is older than $3), and counts the
# attempt before it works.
CLAIM_TEXT = f"""
update documents
set text_attempts = text_attempts + 1, text_claimed_at = now()
where workspace_id = $1 and id = $2 and deleted_at is null and text_status = 'pending'
  and {_READABLE} and (text_claimed_at is null or text_claimed_at < $3)
returning storage_path, mime_type, size_bytes, text_attempts
"""  # noqa: S608 - composed of constants; values are $n parameters
# A storage outage is nobody's fault: the attempt is given back, the claim released.
RELEASE_TEXT = """
update documents
set text_attempts = greatest(text_attempts - 1, 0), text_claimed_at = null
where workspace_id = $1 and id = $2 and text_status = 'pending'
"""
# Only while the document is live and still points at the bytes that were read.
# The text's vector (weight D) is made in the workspace's configuration; the
# trigger puts the metadata's in front of it. The document's text fields change:
# its event is document.updated, by the system.
SET_TEXT = f"""
with updated as (
    update documents d
    set text_status = 'done', text_length = char_length($4), text_status_reason = null,
        text_claimed_at = null,
        search_vector = setweight(to_tsvector(w.text_search_config::regconfig, $4), 'D')
    from workspaces w
    where w.id = $1 and d.workspace_id = $1 and d.id = $2 and d.storage_path = $3
      and d.deleted_at is null
    returning {DOCUMENT_COLUMNS}
), event as (
    {document_event("updated", "'document.updated'", "'system'")}
), stored as (
    insert into document_texts (workspace_id, document_id, content)
    select $1, id, $4 from updated
    on conflict (workspace_id, document_id)
    do update set content = excluded.content, extracted_at = now()
)
select id from updated
"""  # noqa: S608 - composed of constants; values are $n parameters
# FAILED or SKIPPED, and why: document.updated, by the system.
SET_TEXT_OUTCOME = f"""
with updated as (
    update documents d
    set text_status = $4, text_status_reason = $5, text_length = null, text_claimed_at = null
    where d.workspace_id = $1 and d.id = $2 and d.storage_path = $3 and d.deleted_at is null
    returning {DOCUMENT_COLUMNS}
), event as (
    {document_event("updated", "'document.updated'", "'system'")}
)
select id from updated
"""  # noqa: S608 - composed of constants; values are $n parameters
# Pending documents whose job was lost: never claimed and recorded before $1, or
# claimed before $2 and never finished. `text_status = 'pending'` and
# `deleted_at is null` repeat the partial index's predicate so it serves the scan.
# Only documents whose bytes may be read; an infected one is picked to be skipped.
SELECT_LOST_TEXTS = f"""
select workspace_id, id, text_attempts, scan_status = 'infected' as infected from documents
where text_status = 'pending' and deleted_at is null and created_at < $1
  and ({_READABLE} or scan_status = 'infected')
  and (text_claimed_at is null or text_claimed_at < $2)
order by created_at
limit $3
"""  # noqa: S608 - composed of constants; values are $n parameters
# An extraction given up (failed: its jobs never finished) or not to be made
# (skipped: the file is infected): document.updated, by the system.
GIVE_UP_TEXT = f"""
with updated as (
    update documents d
    set text_status = $5, text_status_reason = $3, text_claimed_at = null
    where d.workspace_id = $1 and d.id = $2 and d.text_status = 'pending'
      and (d.text_attempts >= $4 or d.scan_status = 'infected')
    returning {DOCUMENT_COLUMNS}
), event as (
    {document_event("updated", "'document.updated'", "'system'")}
)
select id from updated
"""  # noqa: S608 - composed of constants; values are $n parameters
SELECT_TEXTS = """
select t.document_id, t.content
from document_texts t
join documents d on d.workspace_id = t.workspace_id and d.id = t.document_id
where t.workspace_id = $1 and t.document_id = any($2::uuid[]) and d.deleted_at is null
"""
# Every document of a workspace (live or not) after $2, in id order: a batch to
# index again in the workspace's (new) configuration.
REINDEX_BATCH = """
with batch as (
    select d.id from documents d
    where d.workspace_id = $1 and ($2::uuid is null or d.id > $2::uuid)
    order by d.id
    limit $3
), updated as (
    update documents d
    set search_vector = setweight(to_tsvector(w.text_search_config::regconfig,
                                              coalesce(t.content, '')), 'D')
    from batch
    join workspaces w on w.id = $1
    left join document_texts t on t.workspace_id = $1 and t.document_id = batch.id
    where d.workspace_id = $1 and d.id = batch.id
    returning d.id
)
select max(id::text)::uuid as last, count(*) as done from updated
"""


class TextTooLong(Exception):
    """PostgreSQL refused to index the text (a tsvector is at most 1 MB)."""


async def claim_text(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID, *,
                     claimed_before: dt.datetime) -> Mapping[str, Any] | None:
    return await db.fetchrow(CLAIM_TEXT, workspace_id, document_id, claimed_before)


async def release_text(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID) -> None:
    await db.execute(RELEASE_TEXT, workspace_id, document_id)


async def set_text(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID, *,
                   storage_path: str, text: str) -> bool:
    """Record the text; False if the document is gone or points at other bytes now."""
    try:
        row = await db.fetchrow(SET_TEXT, workspace_id, document_id, storage_path, text)
    except asyncpg.ProgramLimitExceededError as exc:
        raise TextTooLong(str(exc)) from exc
    return row is not None


async def set_text_outcome(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID, *,
                           storage_path: str, status: str, reason: str) -> bool:
    row = await db.fetchrow(SET_TEXT_OUTCOME, workspace_id, document_id, storage_path, status,
                            reason[:1000])
    return row is not None


async def select_lost_texts(db: Database, *, created_before: dt.datetime,
                            claimed_before: dt.datetime, limit: int) -> list[dict]:
    rows = await db.fetch(SELECT_LOST_TEXTS, created_before, claimed_before, limit)
    return [dict(r) for r in rows]


async def give_up_text(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID, *,
                       reason: str, max_attempts: int, status: str = "failed") -> None:
    await db.execute(GIVE_UP_TEXT, workspace_id, document_id, reason, max_attempts, status)


async def select_texts(db: Executor, workspace_id: uuid.UUID,
                       document_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await db.fetch(SELECT_TEXTS, workspace_id, list(document_ids))
    return {row["document_id"]: row["content"] for row in rows}


async def reindex_batch(db: Executor, workspace_id: uuid.UUID, after: uuid.UUID | None,
                        limit: int) -> tuple[uuid.UUID | None, int]:
    """Index the next ``limit`` documents after ``after`` again: (the last one, how many)."""
    row = await db.fetchrow(REINDEX_BATCH, workspace_id, after, limit)
    assert row is not None
    return row["last"], int(row["done"])
