"""Workspaces (tenants)."""

from __future__ import annotations

import uuid

from docgraph.db.database import Database

INSERT_WORKSPACE = """
insert into workspaces (id, name, quota_bytes)
values ($1, $2, coalesce($3, 10737418240))
returning id, name, quota_bytes, used_bytes, created_at, text_search_config
"""
SELECT_WORKSPACE = """
select id, name, quota_bytes, used_bytes, created_at, text_search_config
from workspaces where id = $1
"""
SELECT_WORKSPACES = """
select id, name, quota_bytes, used_bytes, created_at, text_search_config
from workspaces order by created_at, id
"""
# Only a configuration PostgreSQL has (by name, as to_tsvector takes it).
SET_TEXT_SEARCH_CONFIG = """
update workspaces set text_search_config = $2
where id = $1 and exists (select 1 from pg_ts_config where cfgname = $2)
returning id
"""
SELECT_TEXT_SEARCH_CONFIGS = "select cfgname::text from pg_ts_config order by cfgname"


async def create_workspace(db: Database, name: str, quota_bytes: int | None = None) -> dict:
    row = await db.fetchrow(INSERT_WORKSPACE, uuid.uuid4(), name, quota_bytes)
    assert row is not None
    return dict(row)


async def get_workspace(db: Database, workspace_id: uuid.UUID) -> dict | None:
    row = await db.fetchrow(SELECT_WORKSPACE, workspace_id)
    return dict(row) if row else None


async def list_workspaces(db: Database) -> list[dict]:
    return [dict(r) for r in await db.fetch(SELECT_WORKSPACES)]


async def set_text_search_config(db: Database, workspace_id: uuid.UUID, config: str) -> bool:
    """False when there is no such workspace or configuration."""
    return await db.fetchval(SET_TEXT_SEARCH_CONFIG, workspace_id, config) is not None


async def text_search_configs(db: Database) -> list[str]:
    return [row[0] for row in await db.fetch(SELECT_TEXT_SEARCH_CONFIGS)]
