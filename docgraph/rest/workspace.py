"""``GET /v1/workspace``: the caller's workspace, its storage usage, and the key's scopes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers.workspaces import current_workspace


async def get_workspace(request: Request) -> Response:
    ctx = request_context(request)
    workspace = await current_workspace(ctx)
    return JSONResponse({"data": {
        "id": str(workspace.id),
        "name": workspace.name,
        "quota_bytes": workspace.quota_bytes,
        "used_bytes": workspace.used_bytes,
        "created_at": workspace.created_at,
        "key": {"id": str(ctx.principal.key_id), "scopes": sorted(ctx.principal.scopes)},
    }})
