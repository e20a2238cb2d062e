"""Seed 003: a contact's attachments, Wix style (``/contacts/v4/attachments``).

``GET /contacts/v4/attachments/{contactId}?paging.limit=&paging.offset=``
answers ``{"attachments": [...], "metadata": {"count", "offset", "total",
"tooManyToCount"}}``, newest first, at most 100 per page (the default). The
seed's own example sends ``GET /contacts/v4/attachments`` with a JSON body
``{"contactId", "paging": {"limit", "offset"}}``; that is answered too.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import validation as v
from docgraph.resolvers.pagination import PageRequest
from docgraph.resolvers.records import EntityType
from docgraph.rest import shapes
from docgraph.rest.parsing import integer, json_object, query

MAX_ATTACHMENTS = 100  # seed 003: the default and the maximum
_PAGING_NAMES = {"first": "paging.limit", "offset": "paging.offset"}


async def contact_attachments(request: Request) -> Response:
    params = query(request, ("paging.limit", "paging.offset"))
    contact_id = v.check("contactId", v.identifier, request.path_params["contactId"])
    return await _attachments(request, contact_id, integer(params.get("paging.limit")),
                              integer(params.get("paging.offset")))


async def contact_attachments_by_body(request: Request) -> Response:
    query(request, ())
    body = v.parse_fields(await json_object(request),
                          {"contactId": v.identifier, "paging": _paging},
                          required=("contactId",))
    paging = body.get("paging", {})
    return await _attachments(request, body["contactId"], paging.get("limit"),
                              paging.get("offset"))


def _paging(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not set(value) <= {"limit", "offset"}:
        raise v.Invalid("must be an object with limit and offset")
    return value


async def _attachments(request: Request, contact_id: Any, limit: Any, offset: Any) -> Response:
    page = PageRequest.parse(limit, None, offset, default_limit=MAX_ATTACHMENTS,
                             names=_PAGING_NAMES)
    ctx = request_context(request)
    found = await documents_uc.list_entity_documents(ctx, EntityType.CONTACT, contact_id,
                                                     page=page)
    attachments = [
        shapes.attachment(edge.node, documents_uc.download_url(ctx, edge.node),
                          documents_uc.preview_image(ctx, edge.node))
        for edge in found.page.edges
    ]
    return JSONResponse({
        "attachments": attachments,
        "metadata": {"count": len(attachments), "offset": found.page.offset,
                     "total": found.page.total_count, "tooManyToCount": False},
    })
