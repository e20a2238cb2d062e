"""API keys: stored as SHA-256 hashes, looked up by hash."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from docgraph.db.database import Database

INSERT_KEY = """
insert into api_keys (workspace_id, id, key_hash, prefix, name, scopes, rate_limit)
values ($1, $2, $3, $4, $5, $6, $7)
returning workspace_id, id, prefix, name, scopes, rate_limit, created_at, revoked_at
"""
# The one query that is not scoped by workspace: the key is what names it.
SELECT_KEY_BY_HASH = """
select workspace_id, id, scopes, rate_limit, revoked_at from api_keys where key_hash = $1
"""
SELECT_KEYS = """
select workspace_id, id, prefix, name, scopes, rate_limit, created_at, revoked_at
from api_keys
where $1::uuid is null or workspace_id = $1
order by created_at, id
"""
REVOKE_KEY = """
update api_keys set revoked_at = coalesce(revoked_at, now())
where id = $1
returning workspace_id, id, prefix, name, scopes, rate_limit, created_at, revoked_at
"""


async def insert_key(db: Database, *, workspace_id: uuid.UUID, key_hash: bytes, prefix: str,
                     scopes: Sequence[str], name: str | None = None,
                     rate_limit: int | None = None) -> dict:
    row = await db.fetchrow(INSERT_KEY, workspace_id, uuid.uuid4(), key_hash, prefix, name,
                            list(scopes), rate_limit)
    assert row is not None
    return dict(row)


async def find_key_by_hash(db: Database, key_hash: bytes) -> dict | None:
    row = await db.fetchrow(SELECT_KEY_BY_HASH, key_hash)
    return dict(row) if row else None


async def list_keys(db: Database, workspace_id: uuid.UUID | None = None) -> list[dict]:
    return [dict(r) for r in await db.fetch(SELECT_KEYS, workspace_id)]


async def revoke_key(db: Database, key_id: uuid.UUID) -> dict | None:
    row = await db.fetchrow(REVOKE_KEY, key_id)
    return dict(row) if row else None
