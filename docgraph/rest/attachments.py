"""Seed 003: a contact's attachments, Wix style (``/contacts/v4/attachments``).

``GET /contacts/v4/attachments/{contactId}?paging.limit=&paging.offset=``
answers ``{"attachments": [...], "metadata": {"count", "offset", "total",
"tooManyToCount"}}``, newest first, at most 100 per page (the default). Each
attachment carries a signed URL, so only documents whose bytes may be served
are attachments (clean, or not scanned where scanning is optional). The
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
from docgraph.resolvers import resources as r
from docgraph.resolvers import validation as v
from docgraph.resolvers.fields import Field, Input, Kind, accepts
from docgraph.resolvers.pagination import PageRequest
from docgraph.resolvers.records import EntityType
from docgraph.rest import shapes
from docgraph.rest.operations import Operations, param
from docgraph.rest.parsing import integer, json_object
from docgraph.rest.shapes import respond

MAX_ATTACHMENTS = 100  # seed 003: the default and the maximum
_PAGING_NAMES = {"first": "paging.limit", "offset": "paging.offset"}

api = Operations()


def _paging(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not set(value) <= {"limit", "offset"}:
        raise v.Invalid("must be an object with limit and offset")
    return value


PAGING = Input("AttachmentPaging", "Which page of attachments.", accepts((
    Field("limit", r.PAGE_SIZE, "Attachments to return, at most 100."),
    Field("offset", r.OFFSET, "Attachments to skip."))))
# Seed 003's example sends the contact in a GET's body.
LIST_REQUEST = Input("AttachmentListRequest", "Whose attachments, and which page.", accepts((
    Field("contactId", r.ID, "The contact's id."),
    Field("paging", Kind(PAGING, validate=_paging), "Which page (default: the first 100).")),
    required=("contactId",)))
_LIST = {200: ("One page of the contact's attachments, newest first.", shapes.ATTACHMENT_LIST)}


@api("GET", "/contacts/v4/attachments/{contactId}",
     summary="List a contact's attachments (seed 003)",
     operation_id="list_contact_attachments", tag="contacts",
     params=(param("contactId", r.ID, "The contact's id.", where="path"),
             param("paging.limit", r.PAGE_SIZE, "Attachments to return, at most 100.",
                   default=MAX_ATTACHMENTS),
             param("paging.offset", r.OFFSET, "Attachments to skip.", default=0)),
     responses=_LIST, errors=(403,))
async def contact_attachments(request: Request, params: dict[str, str]) -> Response:
    contact_id = v.check("contactId", v.identifier, request.path_params["contactId"])
    return await _attachments(request, contact_id, integer(params.get("paging.limit")),
                              integer(params.get("paging.offset")))


@api("GET", "/contacts/v4/attachments",
     summary="List a contact's attachments, contactId in the body (seed 003's example)",
     operation_id="list_contact_attachments_by_body", tag="contacts", body=LIST_REQUEST,
     responses=_LIST, errors=(403,))
async def contact_attachments_by_body(request: Request, params: dict[str, str]) -> Response:
    body = LIST_REQUEST.parse(await json_object(request))
    paging = body.get("paging", {})
    return await _attachments(request, body["contactId"], paging.get("limit"),
                              paging.get("offset"))


async def _attachments(request: Request, contact_id: Any, limit: Any, offset: Any) -> Response:
    page = PageRequest.parse(limit, None, offset, default_limit=MAX_ATTACHMENTS,
                             names=_PAGING_NAMES)
    ctx = request_context(request)
    # Every attachment carries a download URL: only documents whose bytes may be
    # served are listed (not those waiting for, or failing, their virus scan).
    found = await documents_uc.list_entity_documents(ctx, EntityType.CONTACT, contact_id,
                                                     page=page, downloadable_only=True)
    attachments = [
        shapes.Attachment.of(edge.node, documents_uc.download_url(ctx, edge.node),
                             documents_uc.preview_image(ctx, edge.node))
        for edge in found.page.edges
    ]
    return JSONResponse(respond(
        shapes.ATTACHMENT_LIST, attachments=attachments,
        metadata={"count": len(attachments), "offset": found.page.offset,
                  "total": found.page.total_count, "tooManyToCount": False}))
