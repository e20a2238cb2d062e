"""Contacts, businesses and the other entities, and the document lists of seeds 000 and 004.

* ``/v1/contacts``, ``/v1/businesses`` (GraphQL's Business, entity type
  ``company``) and ``/v1/entities`` (any type, named in the body): ``POST``
  creates (201; the caller may choose the ``id``), ``GET`` and ``PATCH`` on
  ``/{id}`` read and change. Each answers ``{"data": entity}``.
* ``GET /v1/contacts/{id}/documents``: seed 000's ``{"data": {"documents"},
  "meta": {"page", "per_page", "total"}}``.
* ``GET /v1/businesses/{id}/documents``: seed 004's own envelope
  ``{"documents", "total_count", "limit", "offset"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import entities as entities_uc
from docgraph.resolvers.pagination import PageRequest
from docgraph.resolvers.records import EntityType
from docgraph.resolvers.validation import fail
from docgraph.rest import shapes
from docgraph.rest.parsing import integer, json_object, query

Endpoint = Callable[[Request], Awaitable[Response]]

CONTACT_DOCUMENTS_PER_PAGE = 25  # seed 000
BUSINESS_DOCUMENTS_LIMIT = 50  # seed 004


def entity_endpoints(kind: EntityType | None) -> tuple[Endpoint, Endpoint, Endpoint]:
    """Create, read and update endpoints for one entity type (``None``: any type)."""

    async def create(request: Request) -> Response:
        query(request, ())
        fields = await json_object(request)
        entity_type = kind
        if entity_type is None:
            if "entity_type" not in fields:
                raise fail({"entity_type": "is required"})
            entity_type = fields.pop("entity_type")
        entity = await entities_uc.create_entity(request_context(request),
                                                 entity_type, fields)
        return JSONResponse({"data": shapes.entity(entity)}, status_code=201)

    async def read(request: Request) -> Response:
        query(request, ())
        entity = await entities_uc.require_entity(request_context(request),
                                                  request.path_params["id"], kind)
        return JSONResponse({"data": shapes.entity(entity)})

    async def update(request: Request) -> Response:
        query(request, ())
        changes = await json_object(request)
        entity = await entities_uc.update_entity(request_context(request),
                                                 request.path_params["id"], changes, kind)
        return JSONResponse({"data": shapes.entity(entity)})

    return create, read, update


async def contact_documents(request: Request) -> Response:
    """Seed 000: a contact's documents, page by page, optionally of one link role."""
    params = query(request, ("page", "per_page", "role"))
    number = integer(params.get("page"))
    page = PageRequest.parse_page_number(number, integer(params.get("per_page")),
                                         default_per_page=CONTACT_DOCUMENTS_PER_PAGE)
    found = await documents_uc.list_entity_documents(
        request_context(request), EntityType.CONTACT, request.path_params["id"],
        role=params.get("role"), page=page)
    return JSONResponse({
        "data": {"documents": [shapes.contact_document(edge) for edge in found.page.edges]},
        "meta": {"page": number if isinstance(number, int) else 1, "per_page": page.limit,
                 "total": found.page.total_count},
    })


async def business_documents(request: Request) -> Response:
    """Seed 004: a business's documents, newest first, by type and status."""
    params = query(request, ("limit", "offset", "type", "status"))
    page = PageRequest.parse(integer(params.get("limit")), None, integer(params.get("offset")),
                             default_limit=BUSINESS_DOCUMENTS_LIMIT, names={"first": "limit"})
    found = await documents_uc.list_entity_documents(
        request_context(request), EntityType.COMPANY, request.path_params["id"],
        type=params.get("type"), status=params.get("status"), page=page)
    return JSONResponse({
        "documents": [shapes.business_document(edge, found.owner.id)
                      for edge in found.page.edges],
        "total_count": found.page.total_count,
        "limit": found.page.limit,
        "offset": found.page.offset,
    })
