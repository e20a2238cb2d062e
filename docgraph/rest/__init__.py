"""The REST compatibility shim: the seeds' paths, fields and envelopes.

Thin by design: each operation (``operations``) reads the request
(``parsing``), calls the same use cases as GraphQL (``docgraph.resolvers``),
and shapes the answer as its seed does (``shapes``, views of the declared
resources). Errors are the ``AppError`` body of DESIGN.md. The routes and
the OpenAPI document (``openapi``) are both made from the operations.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from docgraph.http.paths import OPENAPI_PATH
from docgraph.http.responses import JSONResponse
from docgraph.rest import (
    attachments,
    documents,
    entities,
    events,
    openapi,
    search,
    uploads,
    webhooks,
    workspace,
)
from docgraph.rest.operations import Operation, Operations

api = Operations()


@api("GET", OPENAPI_PATH, summary="This document", operation_id="openapi", tag="meta",
     public=True, responses={200: ("The OpenAPI document.", None)})
async def openapi_json(request: Request, params: dict[str, str]) -> Response:
    return JSONResponse(openapi.document(OPERATIONS))


OPERATIONS: tuple[Operation, ...] = (
    # search first: /v1/documents/search before /v1/documents/{id}
    *api, *workspace.api, *search.api, *documents.api, *uploads.api, *entities.api,
    *attachments.api, *events.api, *webhooks.api,
)


def _route(path: str, operations: Iterable[Operation]) -> Route:
    """One route per path, dispatching on the method (so a 405 lists every allowed one)."""
    by_method = {operation.method: operation for operation in operations}

    async def dispatch(request: Request) -> Response:
        return await by_method["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, dispatch, methods=list(by_method))


def routes() -> list[Route]:
    paths: dict[str, list[Operation]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, []).append(operation)
    return [_route(path, operations) for path, operations in paths.items()]
