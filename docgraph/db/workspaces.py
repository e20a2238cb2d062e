"""Workspaces (tenants)."""

from __future__ import annotations

import uuid

from docgraph.db.database import Database

INSERT_WORKSPACE = """
insert into workspaces (id, name, quota_bytes)
values ($1, $2, coalesce($3, 10737418240))
returning id, name, quota_bytes, used_bytes, created_at
"""
SELECT_WORKSPACE = """
select id, name, quota_bytes, used_bytes, created_at from workspaces where id = $1
"""
SELECT_WORKSPACES = """
select id, name, quota_bytes, used_bytes, created_at from workspaces order by created_at, id
"""


async def create_workspace(db: Database, name: str, quota_bytes: int | None = None) -> dict:
    row = await db.fetchrow(INSERT_WORKSPACE, uuid.uuid4(), name, quota_bytes)
    assert row is not None
    return dict(row)


async def get_workspace(db: Database, workspace_id: uuid.UUID) -> dict | None:
    row = await db.fetchrow(SELECT_WORKSPACE, workspace_id)
    return dict(row) if row else None


async def list_workspaces(db: Database) -> list[dict]:
    return [dict(r) for r in await db.fetch(SELECT_WORKSPACES)]
