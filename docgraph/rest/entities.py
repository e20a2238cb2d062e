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

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import entities as entities_uc
from docgraph.resolvers import resources as r
from docgraph.resolvers.pagination import PageRequest
from docgraph.resolvers.records import EntityType
from docgraph.resolvers.validation import fail
from docgraph.rest import shapes
from docgraph.rest.operations import Handler, Operations, param
from docgraph.rest.parsing import integer, json_object
from docgraph.rest.shapes import respond

api = Operations()

CONTACT_DOCUMENTS_PER_PAGE = 25  # seed 000
BUSINESS_DOCUMENTS_LIMIT = 50  # seed 004


def _entity_operations(kind: EntityType | None, collection: str, noun: str) -> None:
    """Create, read and update for one entity type (``None``: any type, named in the body)."""
    ident = param("id", r.ID, f"The {noun}'s id.", where="path")
    entity = {200: (f"The {noun}.", shapes.ENTITY_RESPONSE)}

    async def create(request: Request, params: dict[str, str]) -> Response:
        fields = await json_object(request)
        entity_type = kind
        if entity_type is None:
            if "entity_type" not in fields:
                raise fail({"entity_type": "is required"})
            entity_type = fields.pop("entity_type")
        entity = await entities_uc.create_entity(request_context(request),
                                                 entity_type, fields)
        return JSONResponse(respond(shapes.ENTITY_RESPONSE, data=entity), status_code=201)

    async def read(request: Request, params: dict[str, str]) -> Response:
        entity = await entities_uc.require_entity(request_context(request),
                                                  request.path_params["id"], kind)
        return JSONResponse(respond(shapes.ENTITY_RESPONSE, data=entity))

    async def update(request: Request, params: dict[str, str]) -> Response:
        changes = await json_object(request)
        entity = await entities_uc.update_entity(request_context(request),
                                                 request.path_params["id"], changes, kind)
        return JSONResponse(respond(shapes.ENTITY_RESPONSE, data=entity))

    handlers: tuple[Handler, Handler, Handler] = (create, read, update)
    api.add("POST", f"/v1/{collection}", handlers[0], summary=f"Create a {noun}",
            operation_id=f"create_{noun}", tag=collection,
            body=r.ENTITY_CREATE if kind is None else r.NAMED_ENTITY_CREATE,
            responses={201: (f"The {noun}.", shapes.ENTITY_RESPONSE)}, errors=(403, 409))
    api.add("GET", f"/v1/{collection}/{{id}}", handlers[1], summary=f"Get a {noun}",
            operation_id=f"get_{noun}", tag=collection, params=(ident,), responses=entity,
            errors=(403,))
    api.add("PATCH", f"/v1/{collection}/{{id}}", handlers[2], summary=f"Change a {noun}",
            operation_id=f"update_{noun}", tag=collection, params=(ident,),
            body=r.ENTITY_UPDATE, responses=entity, errors=(403,))


_entity_operations(EntityType.CONTACT, "contacts", "contact")


@api("GET", "/v1/contacts/{id}/documents", summary="List a contact's documents (seed 000)",
     operation_id="list_contact_documents", tag="contacts",
     params=(param("id", r.ID, "The contact's id.", where="path"),
             param("page", r.COUNT, "Page number.", minimum=1, default=1),
             param("per_page", r.PAGE_SIZE, "Results per page, at most 100.",
                   default=CONTACT_DOCUMENTS_PER_PAGE),
             param("role", r.ROLE, "Only documents linked with this role (e.g. signed).")),
     responses={200: ("One page of the contact's documents, newest first.",
                      shapes.CONTACT_DOCUMENT_LIST)}, errors=(403,))
async def contact_documents(request: Request, params: dict[str, str]) -> Response:
    """Seed 000: a contact's documents, page by page, optionally of one link role."""
    number = integer(params.get("page"))
    page = PageRequest.parse_page_number(number, integer(params.get("per_page")),
                                         default_per_page=CONTACT_DOCUMENTS_PER_PAGE)
    found = await documents_uc.list_entity_documents(
        request_context(request), EntityType.CONTACT, request.path_params["id"],
        role=params.get("role"), page=page)
    return JSONResponse(respond(
        shapes.CONTACT_DOCUMENT_LIST, data={"documents": found.page.edges},
        meta={"page": number if isinstance(number, int) else 1, "per_page": page.limit,
              "total": found.page.total_count}))


_entity_operations(EntityType.COMPANY, "businesses", "business")


@api("GET", "/v1/businesses/{id}/documents", summary="List a business's documents (seed 004)",
     operation_id="list_business_documents", tag="businesses",
     params=(param("id", r.ID, "The business's id (a UUID, also spelled urn:uuid:...).",
                   where="path"),
             param("limit", r.PAGE_SIZE, "Documents to return, at most 100.",
                   default=BUSINESS_DOCUMENTS_LIMIT),
             param("offset", r.OFFSET, "Documents to skip.", default=0),
             param("type", r.DOCUMENT_TYPE, "Only documents of this type."),
             param("status", r.DOCUMENT_STATUS,
                   "Only documents with this verification status.")),
     responses={200: ("One page of the business's documents, newest first.",
                      shapes.BUSINESS_DOCUMENT_LIST)}, errors=(403,))
async def business_documents(request: Request, params: dict[str, str]) -> Response:
    """Seed 004: a business's documents, newest first, by type and status."""
    page = PageRequest.parse(integer(params.get("limit")), None, integer(params.get("offset")),
                             default_limit=BUSINESS_DOCUMENTS_LIMIT, names={"first": "limit"})
    found = await documents_uc.list_entity_documents(
        request_context(request), EntityType.COMPANY, request.path_params["id"],
        type=params.get("type"), status=params.get("status"), page=page)
    return JSONResponse(respond(
        shapes.BUSINESS_DOCUMENT_LIST, documents=found.page.edges,
        total_count=found.page.total_count, limit=found.page.limit, offset=found.page.offset))


_entity_operations(None, "entities", "entity")
