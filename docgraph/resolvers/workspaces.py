"""The caller's own workspace: its name, storage quota and usage."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from docgraph.db import workspaces
from docgraph.db.database import Database
from docgraph.errors import NotFound, ValidationError
from docgraph.resolvers.auth import READ_DOCUMENTS
from docgraph.resolvers.texts import reindex_workspace

if TYPE_CHECKING:
    from docgraph.resolvers.context import RequestContext


@dataclasses.dataclass(frozen=True, slots=True)
class WorkspaceRecord:
    id: uuid.UUID
    name: str
    quota_bytes: int | None
    used_bytes: int
    text_search_config: str
    created_at: datetime


async def create_workspace(db: Database, name: str, quota_bytes: int | None = None) -> dict:
    """A new workspace (tenant); without ``quota_bytes``, the default quota (10 GiB)."""
    return await workspaces.create_workspace(db, name, quota_bytes)


async def get_workspace(db: Database, workspace_id: uuid.UUID) -> dict | None:
    return await workspaces.get_workspace(db, workspace_id)


async def list_workspaces(db: Database) -> list[dict]:
    return await workspaces.list_workspaces(db)


async def set_text_search_config(db: Database, workspace_id: uuid.UUID, config: str) -> int:
    """Search the workspace's documents in another text search configuration (stemming
    and stop words: ``english``, ``german``, ``simple``...): the workspace's documents
    are indexed again, in batches (returns how many). ``NotFound`` for an unknown
    workspace, ``ValidationError`` for a configuration PostgreSQL does not have."""
    if await workspaces.get_workspace(db, workspace_id) is None:
        raise NotFound("Workspace not found.")
    if not await workspaces.set_text_search_config(db, workspace_id, config):
        known = await workspaces.text_search_configs(db)
        raise ValidationError(f"No text search configuration {config!r}; there are: "
                              + ", ".join(known) + ".", details={"known": known})
    return await reindex_workspace(db, workspace_id)


async def current_workspace(ctx: RequestContext) -> WorkspaceRecord:
    """The workspace of the caller's key."""
    ctx.principal.require(READ_DOCUMENTS)
    row = await workspaces.get_workspace(ctx.db, ctx.workspace_id)
    if row is None:
        raise NotFound("Workspace not found.")
    return WorkspaceRecord(id=row["id"], name=row["name"], quota_bytes=row["quota_bytes"],
                           used_bytes=row["used_bytes"],
                           text_search_config=row["text_search_config"],
                           created_at=row["created_at"])
