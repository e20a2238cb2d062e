"""Documents and their links (seeds 001 and 002).

* ``POST /v1/documents`` (201), ``GET``, ``PATCH``, ``DELETE /v1/documents/{id}``:
  seed 002's record in ``{"data": ...}``.
* ``POST /v1/documents/{id}/link``: seed 001; 201 when the link is new, 200
  with the existing link when the document and entity were already linked.
* ``DELETE /v1/documents/{id}/link?entity_type=...&entity_id=...``: removes
  that link and answers it (the triple names at most one link).
* ``GET /v1/documents/{id}/links``: the document's links, oldest first.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import links as links_uc
from docgraph.resolvers import resources as r
from docgraph.rest import shapes
from docgraph.rest.operations import Operations, param
from docgraph.rest.parsing import json_object
from docgraph.rest.shapes import respond

api = Operations()

DOCUMENT_ID = param("id", r.ID, "The document's id.", where="path")
_DOCUMENT = {200: ("The document.", shapes.DOCUMENT_RESPONSE)}


@api("POST", "/v1/documents", summary="Create a document record (seed 002)",
     operation_id="create_document", tag="documents", body=r.DOCUMENT_CREATE,
     responses={201: ("The document record.", shapes.DOCUMENT_RESPONSE)}, errors=(403, 409),
     description="Records a document whose bytes are already uploaded at storage_path. A "
                 "live document at the same storage_path: 409 storage_conflict.")
async def create_document(request: Request, params: dict[str, str]) -> Response:
    fields = await json_object(request)
    document = await documents_uc.create_document(request_context(request), fields)
    return JSONResponse(respond(shapes.DOCUMENT_RESPONSE, data=document), status_code=201)


@api("GET", "/v1/documents/{id}", summary="Get a document (seed 002's record)",
     operation_id="get_document", tag="documents", params=(DOCUMENT_ID,),
     responses=_DOCUMENT, errors=(403,))
async def get_document(request: Request, params: dict[str, str]) -> Response:
    document = await documents_uc.require_document(request_context(request),
                                                   request.path_params["id"])
    return JSONResponse(respond(shapes.DOCUMENT_RESPONSE, data=document))


@api("PATCH", "/v1/documents/{id}", summary="Change a document's metadata",
     operation_id="update_document", tag="documents", params=(DOCUMENT_ID,),
     body=r.DOCUMENT_UPDATE, responses=_DOCUMENT, errors=(403,))
async def update_document(request: Request, params: dict[str, str]) -> Response:
    changes = await json_object(request)
    document = await documents_uc.update_document(request_context(request),
                                                  request.path_params["id"], changes)
    return JSONResponse(respond(shapes.DOCUMENT_RESPONSE, data=document))


@api("DELETE", "/v1/documents/{id}", summary="Delete a document",
     operation_id="delete_document", tag="documents", params=(DOCUMENT_ID,),
     responses={200: ("The deleted document.", shapes.DELETED_DOCUMENT_RESPONSE)},
     errors=(403,),
     description="From now on the document is absent from every read and list, and every "
                 "URL issued before for its bytes or preview answers 404.")
async def delete_document(request: Request, params: dict[str, str]) -> Response:
    deleted = await documents_uc.delete_document(request_context(request),
                                                 request.path_params["id"])
    return JSONResponse(respond(shapes.DELETED_DOCUMENT_RESPONSE, data=deleted))


@api("POST", "/v1/documents/{id}/link", summary="Link a document to an entity (seed 001)",
     operation_id="link_document", tag="links", params=(DOCUMENT_ID,), body=r.LINK_CREATE,
     responses={201: ("The new link.", shapes.LINK_RESPONSE),
                200: ("The link that already existed, unchanged.", shapes.LINK_RESPONSE)},
     errors=(403,))
async def link_document(request: Request, params: dict[str, str]) -> Response:
    fields = await json_object(request)
    result = await links_uc.link_document(request_context(request),
                                          request.path_params["id"], fields)
    return JSONResponse(respond(shapes.LINK_RESPONSE, data=result.link),
                        status_code=201 if result.created else 200)


@api("DELETE", "/v1/documents/{id}/link",
     summary="Remove the link between a document and an entity",
     operation_id="unlink_document", tag="links",
     params=(DOCUMENT_ID,
             *(param(a.name, a.field.kind, a.field.description or "", required=True)
               for a in r.LINK_TARGET.fields)),
     responses={200: ("The removed link.", shapes.LINK_RESPONSE)}, errors=(403,))
async def unlink_document(request: Request, params: dict[str, str]) -> Response:
    removed = await links_uc.unlink_document(request_context(request),
                                             request.path_params["id"], params)
    return JSONResponse(respond(shapes.LINK_RESPONSE, data=removed))


@api("GET", "/v1/documents/{id}/links", summary="A document's links, oldest first",
     operation_id="document_links", tag="links", params=(DOCUMENT_ID,),
     responses={200: ("The links.", shapes.LINK_LIST)}, errors=(403,))
async def document_links(request: Request, params: dict[str, str]) -> Response:
    links = await links_uc.document_links(request_context(request),
                                          request.path_params["id"])
    return JSONResponse(respond(shapes.LINK_LIST, data={"links": links}))
