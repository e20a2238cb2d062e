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
from docgraph.rest import shapes
from docgraph.rest.parsing import json_object, query


def _data(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": data}, status_code=status)


async def create_document(request: Request) -> Response:
    query(request, ())
    fields = await json_object(request)
    document = await documents_uc.create_document(request_context(request), fields)
    return _data(shapes.document_record(document), 201)


async def get_document(request: Request) -> Response:
    query(request, ())
    document = await documents_uc.require_document(request_context(request),
                                                   request.path_params["id"])
    return _data(shapes.document_record(document))


async def update_document(request: Request) -> Response:
    query(request, ())
    changes = await json_object(request)
    document = await documents_uc.update_document(request_context(request),
                                                  request.path_params["id"], changes)
    return _data(shapes.document_record(document))


async def delete_document(request: Request) -> Response:
    query(request, ())
    deleted = await documents_uc.delete_document(request_context(request),
                                                 request.path_params["id"])
    return _data(shapes.deleted_document(deleted))


async def link_document(request: Request) -> Response:
    query(request, ())
    fields = await json_object(request)
    result = await links_uc.link_document(request_context(request),
                                          request.path_params["id"], fields)
    return _data(shapes.link(result.link), 201 if result.created else 200)


async def unlink_document(request: Request) -> Response:
    target = query(request, ("entity_type", "entity_id"))
    removed = await links_uc.unlink_document(request_context(request),
                                             request.path_params["id"], target)
    return _data(shapes.link(removed))


async def document_links(request: Request) -> Response:
    query(request, ())
    links = await links_uc.document_links(request_context(request),
                                          request.path_params["id"])
    return _data({"links": [shapes.link(link) for link in links]})
