"""The GraphQL object types: documents, links, entities, pages and payloads.

Resolvers hand these types the plain records of ``resolvers.records``;
plain fields are read straight off them (no per-field resolvers), and only
relations (a document's links, a link's entity, an entity's documents) go
through the request's dataloaders.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import resources as r
from docgraph.resolvers import webhooks as webhooks_uc
from docgraph.resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest
from docgraph.resolvers.records import (
    DeliveryStatus,
    DocumentRecord,
    DocumentStatus,
    DocumentType,
    EntityRecord,
    EntityType,
    LinkedDocumentOrder,
    LinkRecord,
    ScanStatus,
    WebhookEndpointRecord,
)
from docgraph.resolvers.uploads import UploadTicket
from docgraph.schema import lookahead
from docgraph.schema.fields import SafeInt, graphql_text, object_fields
from docgraph.schema.info import Info
from docgraph.schema.relations import loads

if TYPE_CHECKING:
    from graphql import GraphQLAbstractType, GraphQLResolveInfo

__all__ = ["SafeInt"]


First = Annotated[int | None, strawberry.argument(
    description=f"Page size, 0-{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}); more than "
                f"{MAX_PAGE_SIZE} is a validation_error.")]
After = Annotated[str | None, strawberry.argument(
    description="Cursor pagination: the items after this cursor (an edge's cursor or "
                "pageInfo.endCursor).")]
# Fields that lead from an object to others (or to its bytes): what a mutation answers
# beyond the object it changed.
NEEDS_READ = ("Needs read:documents: without it, null with an insufficient_permissions "
              "error.")

Offset = Annotated[int | None, strawberry.argument(
    description="Offset pagination: skip this many items. Not together with after.")]


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    has_previous_page: bool = strawberry.field(description="Whether items precede this page.")
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first item; null if the page is empty.")
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last item, to pass as after for the next "
                    "page; null if the page is empty.")


ExpiresIn = Annotated[int | None, strawberry.argument(
    description="Lifetime of the URL in seconds: at least 1, at most the configured maximum "
                "(DOCGRAPH_DOWNLOAD_URL_MAX_SECONDS, a day by default; more is a "
                "validation_error). Default: DOCGRAPH_DOWNLOAD_URL_SECONDS (an hour).")]


@strawberry.type(description=graphql_text(r.SIGNED_URL.description))
@object_fields(r.SIGNED_URL)
class DownloadUrl:
    pass


@strawberry.type(description="An image's size in pixels, as displayed (EXIF orientation "
                             "applied).")
class ImageSize:
    width: int = strawberry.field(description="Width in pixels.")
    height: int = strawberry.field(description="Height in pixels.")


@strawberry.type(description=graphql_text(r.PREVIEW_IMAGE.description))
@object_fields(r.PREVIEW_IMAGE)
class PreviewImage:
    pass


@strawberry.type(description=r.DOCUMENT.description)
@object_fields(r.DOCUMENT)
class Document:
    # Signing is computation only (no SQL, no call to the store): plain, synchronous
    # resolvers, so a list's URLs add no statement and no await per document.
    @strawberry.field(description="A signed URL that downloads the bytes under the "
                                  "document's name (seed 003's url and urlExpirationDate). "
                                  "Null with a document_not_clean error unless scanStatus is "
                                  "CLEAN, or NOT_SCANNED where scanning is not mandatory. "
                                  + NEEDS_READ)
    def download(root: DocumentRecord, info: Info,
                 expires_in: ExpiresIn = None) -> DownloadUrl | None:
        return documents_uc.download_url(  # type: ignore[return-value]
            info.context, root, expires_in)

    @strawberry.field(description="The preview of an image, or of a PDF's first page, made "
                                  "in the background after recording (after the virus scan "
                                  "found the bytes clean, when a scanner is configured); null "
                                  "until it exists, and for other documents. Refused "
                                  "(document_not_clean) while download is. " + NEEDS_READ)
    def preview_image(root: DocumentRecord, info: Info,
                      expires_in: ExpiresIn = None) -> PreviewImage | None:
        return documents_uc.preview_image(  # type: ignore[return-value]
            info.context, root, expires_in)

    # Relations return the loader's future itself (graphql awaits it): no coroutine per
    # item, and every item of a list joins the same batch. (The type: ignores are for
    # that future.) Each is nullable: a key without read:documents gets null and an
    # insufficient_permissions error there (the context's loaders refuse it), and the
    # rest of the answer, a mutation's own object above all, stays intact.
    @strawberry.field(description="Every link of the document, oldest first. " + NEEDS_READ)
    @loads("links_by_document", "id")
    def links(root: DocumentRecord, info: Info) -> list[Link] | None:
        return info.context.links_by_document.load(root.id)  # type: ignore[return-value]

    @strawberry.field(description="The text extracted from the file (what search reads): "
                                  "null until textStatus is DONE, and when there was none. "
                                  + NEEDS_READ)
    @loads("text_by_document", "id")
    def text(root: DocumentRecord, info: Info) -> str | None:
        return info.context.text_by_document.load(root.id)  # type: ignore[return-value]


@strawberry.type(description=r.LINK.description)
@object_fields(r.LINK)
class Link:
    @strawberry.field(description="The document (null if it was deleted meanwhile). "
                                  + NEEDS_READ)
    @loads("document_by_id", "document_id")
    def document(root: LinkRecord, info: Info) -> Document | None:
        return info.context.document_by_id.load(root.document_id)  # type: ignore[return-value]

    @strawberry.field(description="The entity the link points at. " + NEEDS_READ)
    @loads("entity_by_id", "entity_id")
    def entity(root: LinkRecord, info: Info) -> Entity | None:
        return info.context.entity_by_id.load(root.entity_id)  # type: ignore[return-value]


CURSOR = "Opaque; pass it as after to get the items that follow this one."
PAGE_INFO = "Whether other pages follow or precede this one, and its first and last cursors."


@strawberry.type(description="A document in an entity's list, and the link that put it there.")
class LinkedDocumentEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: Document = strawberry.field(description="The document.")
    role: str | None = strawberry.field(description="The link's role.")
    linked_at: datetime = strawberry.field(description="When the link was made.")
    link: Link = strawberry.field(description="The link between the entity and the "
                                              "document.")


@strawberry.type(description="A page of an entity's documents, newest first.")
class LinkedDocumentConnection:
    edges: list[LinkedDocumentEdge] = strawberry.field(
        description="The page's documents, each with its cursor and link.")
    nodes: list[Document] = strawberry.field(
        description="The page's documents alone, in the order of edges.")
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(
        description="How many documents the entity has that match the arguments, across "
                    "all pages.")


GRAPHQL_TYPE_NAMES = {
    EntityType.CONTACT: "Contact",
    EntityType.COMPANY: "Business",
    EntityType.DEAL: "Deal",
    EntityType.EVENT: "Event",
    EntityType.MATTER: "Matter",
    EntityType.TASK: "Task",
}


@strawberry.interface(description=r.ENTITY.description)
@object_fields(r.ENTITY)
class Entity:
    @strawberry.field(description="The entity's live documents, newest first, each with its "
                                  "link's role and time. " + NEEDS_READ)
    async def documents(
        root: EntityRecord, info: Info,
        role: Annotated[str | None, strawberry.argument(
            description="Only documents linked with this role.")] = None,
        type: Annotated[DocumentType | None, strawberry.argument(
            description="Only documents of this type.")] = None,
        status: Annotated[DocumentStatus | None, strawberry.argument(
            description="Only documents with this verification status.")] = None,
        scan_status: Annotated[ScanStatus | None, strawberry.argument(
            description="Only documents with this virus-scan status.")] = None,
        order_by: Annotated[LinkedDocumentOrder, strawberry.argument(
            description="CREATED_AT: newest document first (the default); LINKED_AT: "
                        "the documents most recently linked to this entity first. A "
                        "cursor serves the order it came from.")] = (
            LinkedDocumentOrder.CREATED_AT),
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        offset: Offset = None,
    ) -> LinkedDocumentConnection | None:
        planned = lookahead.planned_page(info, root.id)
        if planned is not None:  # read with the entity, from these very arguments
            return await documents_uc.entity_document_page(  # type: ignore[return-value]
                info.context, planned, planned)
        fields = info._raw_info.field_nodes
        query = documents_uc.entity_documents_query(
            root.id, role=role, type=type, status=status, scan_status=scan_status,
            order=order_by,
            page=PageRequest.parse(first, after, offset),
            with_links=lookahead.selects_document_links(fields),
            with_total=lookahead.may_select(fields, "totalCount"))
        selection = lookahead.page_selection(info, fields)
        return await documents_uc.entity_document_page(  # type: ignore[return-value]
            info.context, query,
            None if selection is None else dataclasses.replace(query, selection=selection))

    @classmethod
    def resolve_type(cls, obj: Any, info: GraphQLResolveInfo,
                     abstract_type: GraphQLAbstractType) -> str:
        return GRAPHQL_TYPE_NAMES[obj.entity_type]


def _is(entity_type: EntityType) -> Any:
    def is_type_of(cls: type, obj: Any, info: GraphQLResolveInfo) -> bool:
        return getattr(obj, "entity_type", None) is entity_type

    return classmethod(is_type_of)


@strawberry.type(description="A person.")
class Contact(Entity):
    name: str = strawberry.field(description="The contact's name.")
    is_type_of = _is(EntityType.CONTACT)


@strawberry.type(description="A company (entity type COMPANY).")
class Business(Entity):
    name: str = strawberry.field(description="The business's name.")
    is_type_of = _is(EntityType.COMPANY)


@strawberry.type(description="A deal.")
class Deal(Entity):
    is_type_of = _is(EntityType.DEAL)


@strawberry.type(description="An event.")
class Event(Entity):
    is_type_of = _is(EntityType.EVENT)


@strawberry.type(description="A legal matter.")
class Matter(Entity):
    is_type_of = _is(EntityType.MATTER)


@strawberry.type(description="A task.")
class Task(Entity):
    is_type_of = _is(EntityType.TASK)


ENTITY_TYPES = (Contact, Business, Deal, Event, Matter, Task)


@strawberry.type(description="A document in a page of documents, with its cursor.")
class DocumentEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: Document = strawberry.field(description="The document.")


@strawberry.type(description="A page of documents, newest first.")
class DocumentConnection:
    edges: list[DocumentEdge] = strawberry.field(
        description="The page's documents, each with its cursor.")
    nodes: list[Document] = strawberry.field(
        description="The page's documents alone, in the order of edges.")
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(
        description="How many documents match the arguments, across all pages.")


@strawberry.type(description="A document found by searchDocuments: how well it matched, "
                             "and where.")
class DocumentSearchEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: Document = strawberry.field(description="The document.")
    rank: float = strawberry.field(
        description="How well it matched (higher is better): words in the name count most, "
                    "then in tags and folder, description, and the file's text; a name that "
                    "only resembles the query counts by how close it is.")
    snippet: str | None = strawberry.field(
        description="Where the words were found: a few words around them from the name, "
                    "description and text, as HTML (the text escaped, each match in "
                    "<mark>...</mark>); from the beginning when no word is in them.")


@strawberry.type(description="A page of search results, best first.")
class DocumentSearchConnection:
    edges: list[DocumentSearchEdge] = strawberry.field(
        description="The page's documents, each with its cursor, rank and snippet.")
    nodes: list[Document] = strawberry.field(
        description="The page's documents alone, in the order of edges.")
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(
        description="How many documents match the query and filter, across all pages.")


@strawberry.type(description="An entity in a page of entities, with its cursor.")
class EntityEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: Entity = strawberry.field(description="The entity.")


@strawberry.type(description="A page of entities, newest first.")
class EntityConnection:
    edges: list[EntityEdge] = strawberry.field(
        description="The page's entities, each with its cursor.")
    nodes: list[Entity] = strawberry.field(
        description="The page's entities alone, in the order of edges.")
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(
        description="How many entities match the arguments, across all pages.")


@strawberry.type(description=graphql_text(r.EVENT.description))
@object_fields(r.EVENT)
class ChangeEvent:
    pass


@strawberry.type(description="An event in a page of events, with its cursor.")
class ChangeEventEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: ChangeEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of events, newest first.")
class ChangeEventConnection:
    edges: list[ChangeEventEdge] = strawberry.field(
        description="The page's events, each with its cursor.")
    nodes: list[ChangeEvent] = strawberry.field(
        description="The page's events alone, in the order of edges.")
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(
        description="How many events match the arguments, across all pages.")


@strawberry.type(description="What linkDocument answers: the link, and whether this call "
                             "made it.")
class LinkDocumentPayload:
    link: Link = strawberry.field(description="The link, new or already there.")
    created: bool = strawberry.field(
        description="False when the link already existed (it is returned unchanged).")


@strawberry.type(description="What unlinkDocument answers: the link it removed.")
class UnlinkDocumentPayload:
    link: Link = strawberry.field(description="The link as it was before its removal.")


@strawberry.type(description="An HTTP header to send with the upload.")
class HttpHeader:
    name: str = strawberry.field(description="The header's name, e.g. Content-Type.")
    value: str = strawberry.field(description="Its value, to send exactly as given.")


@strawberry.type(description="Where and how to upload: send method to uploadUrl with "
                             "exactly these headers and the bytes as the body, before "
                             "expiresAt; then createDocument(storagePath).")
@object_fields(r.UPLOAD_TICKET)
class RequestUploadUrlPayload:
    @strawberry.field
    def headers(root: UploadTicket) -> list[HttpHeader]:
        return [HttpHeader(name=name, value=value) for name, value in root.headers.items()]


@strawberry.type(description=r.DELETED_DOCUMENT.description)
@object_fields(r.DELETED_DOCUMENT)
class DeleteDocumentPayload:
    pass


# -- webhooks ---------------------------------------------------------------------------


@strawberry.type(description=graphql_text(r.WEBHOOK_ATTEMPT.description))
@object_fields(r.WEBHOOK_ATTEMPT)
class WebhookAttempt:
    pass


@strawberry.type(description=graphql_text(r.WEBHOOK_DELIVERY.description))
@object_fields(r.WEBHOOK_DELIVERY)
class WebhookDelivery:
    pass


@strawberry.type(description="A delivery in a page of deliveries, with its cursor.")
class WebhookDeliveryEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: WebhookDelivery = strawberry.field(description="The delivery.")


@strawberry.type(description="A page of an endpoint's deliveries, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge] = strawberry.field(
        description="The page's deliveries, each with its cursor.")
    nodes: list[WebhookDelivery] = strawberry.field(
        description="The page's deliveries alone, in the order of edges.")
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(
        description="How many deliveries match the arguments, across all pages.")


@strawberry.type(description=graphql_text(r.WEBHOOK_ENDPOINT.description))
@object_fields(r.WEBHOOK_ENDPOINT)
class WebhookEndpoint:
    @strawberry.field(description="The endpoint's deliveries, newest first, each with its "
                                  "attempts; kept as long as events are.")
    async def deliveries(
        root: WebhookEndpointRecord, info: Info,
        status: Annotated[DeliveryStatus | None, strawberry.argument(
            description="Only deliveries with this status.")] = None,
        first: First = DEFAULT_PAGE_SIZE, after: After = None, offset: Offset = None,
    ) -> WebhookDeliveryConnection:
        return await webhooks_uc.list_deliveries(  # type: ignore[return-value]
            info.context, root.id, PageRequest.parse(first, after, offset), status=status,
            with_total=lookahead.may_select(info._raw_info.field_nodes, "totalCount"),
            check_endpoint=False)


@strawberry.type(description="An endpoint and its new signing secret, shown this once.")
class WebhookEndpointSecretPayload:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(
        description="The signing secret: whsec_ and the base64 of its bytes, as Standard "
                    "Webhooks libraries take it. Store it now: it is never shown again.")


@strawberry.type(description="An endpoint just deleted, with its deliveries.")
class DeleteWebhookEndpointPayload:
    id: strawberry.ID = strawberry.field(description="The endpoint's id.")
    deleted_at: datetime = strawberry.field(description="When it was deleted.")
