"""``GET /v1/workspace``: the caller's workspace, its storage usage, and the key's scopes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers.workspaces import current_workspace
from docgraph.rest import shapes
from docgraph.rest.operations import Operations
from docgraph.rest.shapes import respond

api = Operations()


@api("GET", "/v1/workspace", summary="The caller's workspace and key",
     operation_id="get_workspace", tag="meta",
     responses={200: ("The workspace.", shapes.WORKSPACE_RESPONSE)}, errors=(403,))
async def get_workspace(request: Request, params: dict[str, str]) -> Response:
    ctx = request_context(request)
    workspace = await current_workspace(ctx)
    return JSONResponse(respond(shapes.WORKSPACE_RESPONSE, data=shapes.CallerWorkspace(
        workspace, ctx.principal.key_id, sorted(ctx.principal.scopes))))
