"""The REST compatibility shim: the seeds' paths, fields and envelopes.

Thin by design: each endpoint reads the request (``parsing``), calls the
same use cases as GraphQL (``docgraph.resolvers``), and shapes the answer
as its seed does (``shapes``). Errors are the ``AppError`` body of
DESIGN.md. ``openapi`` describes every route; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from docgraph.http.paths import OPENAPI_PATH
from docgraph.resolvers.records import EntityType
from docgraph.rest import attachments, documents, entities, openapi, uploads, workspace

Endpoint = Callable[[Request], Awaitable[Response]]


def _methods(endpoints: Mapping[str, Endpoint]) -> Endpoint:
    """One endpoint per method on a path (so a 405 lists every allowed method)."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    return dispatch


def _route(path: str, **endpoints: Endpoint) -> Route:
    return Route(path, _methods(endpoints), methods=list(endpoints))


def routes() -> list[Route]:
    create_contact, get_contact, update_contact = entities.entity_endpoints(EntityType.CONTACT)
    create_business, get_business, update_business = entities.entity_endpoints(
        EntityType.COMPANY)
    create_entity, get_entity, update_entity = entities.entity_endpoints(None)
    return [
        _route(OPENAPI_PATH, GET=openapi.openapi_json),
        _route("/v1/workspace", GET=workspace.get_workspace),
        _route("/v1/documents", POST=documents.create_document),
        _route("/v1/documents/upload-url", POST=uploads.request_upload_url),
        _route("/v1/documents/{id}", GET=documents.get_document,
               PATCH=documents.update_document, DELETE=documents.delete_document),
        _route("/v1/documents/{id}/link", POST=documents.link_document,
               DELETE=documents.unlink_document),
        _route("/v1/documents/{id}/links", GET=documents.document_links),
        _route("/v1/documents/{id}/download-url", GET=uploads.download_url),
        _route("/v1/contacts", POST=create_contact),
        _route("/v1/contacts/{id}", GET=get_contact, PATCH=update_contact),
        _route("/v1/contacts/{id}/documents", GET=entities.contact_documents),
        _route("/v1/businesses", POST=create_business),
        _route("/v1/businesses/{id}", GET=get_business, PATCH=update_business),
        _route("/v1/businesses/{id}/documents", GET=entities.business_documents),
        _route("/v1/entities", POST=create_entity),
        _route("/v1/entities/{id}", GET=get_entity, PATCH=update_entity),
        _route("/contacts/v4/attachments/{contactId}", GET=attachments.contact_attachments),
        _route("/contacts/v4/attachments", GET=attachments.contact_attachments_by_body),
    ]
