"""The GraphQL object types: documents, links, entities, pages and payloads.

Resolvers hand these types the plain records of ``resolvers.records``;
plain fields are read straight off them (no per-field resolvers), and only
relations (a document's links, a link's entity, an entity's documents) go
through the request's dataloaders.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NewType

import strawberry
from strawberry.scalars import JSON

from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest
from docgraph.resolvers.records import AttachmentType, DocumentStatus, DocumentType, EntityType
from docgraph.schema import lookahead
from docgraph.schema.info import Info
from docgraph.schema.relations import loads

if TYPE_CHECKING:
    from graphql import GraphQLAbstractType, GraphQLResolveInfo

SafeInt = NewType("SafeInt", int)
"""An integer exact in JavaScript (|n| <= 2^53 - 1); byte sizes exceed GraphQL's Int."""

# The records' enums, registered as GraphQL enums (values in UPPER_CASE).
strawberry.enum(EntityType, description="What a link points at. GraphQL calls a company a "
                                        "Business.")
strawberry.enum(DocumentType, description="What kind of document it is.")
strawberry.enum(DocumentStatus, description="Verification status: PENDING -> VERIFIED or "
                                            "REJECTED; VERIFIED -> EXPIRED.")
strawberry.enum(AttachmentType, description="IMAGE for image/* types, UNKNOWN for "
                                            "application/octet-stream, OTHER for the rest.")

First = Annotated[int | None, strawberry.argument(
    description=f"Page size, 0-{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}); more than "
                f"{MAX_PAGE_SIZE} is a validation_error.")]
After = Annotated[str | None, strawberry.argument(
    description="Cursor pagination: the items after this cursor (an edge's cursor or "
                "pageInfo.endCursor).")]
Offset = Annotated[int | None, strawberry.argument(
    description="Offset pagination: skip this many items. Not together with after.")]


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


ExpiresIn = Annotated[int | None, strawberry.argument(
    description="Lifetime of the URL in seconds: at least 1, at most the configured maximum "
                "(DOCGRAPH_DOWNLOAD_URL_MAX_SECONDS, a day by default; more is a "
                "validation_error). Default: DOCGRAPH_DOWNLOAD_URL_SECONDS (an hour).")]


@strawberry.type(description="A signed URL that serves a document's bytes until expiresAt. "
                             "It needs no API key: share it only with whom may read the "
                             "document.")
class DownloadUrl:
    url: str
    expires_at: datetime


@strawberry.type(description="An image's size in pixels, as displayed (EXIF orientation "
                             "applied).")
class ImageSize:
    width: int
    height: int


@strawberry.type(description="A reduced copy of an image document (256 px on the long "
                             "side, JPEG, or PNG when the image has transparency), and a "
                             "signed URL that serves it until expiresAt.")
class PreviewImage:
    url: str
    width: int
    height: int
    expires_at: datetime


@strawberry.type(description="A file's metadata; its bytes live in object storage.")
class Document:
    id: strawberry.ID
    name: str
    description: str | None
    mime_type: str
    size_bytes: SafeInt
    storage_path: str
    folder: str | None
    tags: list[str]
    type: DocumentType
    status: DocumentStatus
    user_data: JSON
    verified_at: datetime | None = strawberry.field(description="Set while status is VERIFIED.")
    rejection_reason: str | None = strawberry.field(description="Set while status is REJECTED.")
    created_by: strawberry.ID | None = strawberry.field(
        description="The API key that recorded the document.")
    created_at: datetime
    updated_at: datetime
    attachment_type: AttachmentType
    sha256: str | None = strawberry.field(
        description="SHA-256 of the bytes (hex), when one was declared and verified.")
    image: ImageSize | None = strawberry.field(
        description="For PNG, JPEG, GIF and WebP images: their size, measured in the "
                    "background shortly after recording (null until then, and for files "
                    "that are not really images).")

    # Signing is computation only (no SQL, no call to the store): plain, synchronous
    # resolvers, so a list's URLs add no statement and no await per document.
    @strawberry.field(description="A signed URL that downloads the bytes under the "
                                  "document's name (seed 003's url and urlExpirationDate).")
    def download(self, info: Info, expires_in: ExpiresIn = None) -> DownloadUrl | None:
        return documents_uc.download_url(  # type: ignore[return-value]
            info.context, self, expires_in)  # type: ignore[arg-type]

    @strawberry.field(description="The image's preview, made in the background after "
                                  "recording; null until it exists, and for documents that "
                                  "are not images.")
    def preview_image(self, info: Info, expires_in: ExpiresIn = None) -> PreviewImage | None:
        return documents_uc.preview_image(  # type: ignore[return-value]
            info.context, self, expires_in)  # type: ignore[arg-type]

    # Relations return the loader's future itself (graphql awaits it): no coroutine per
    # item, and every item of a list joins the same batch. (The type: ignores are for
    # that future, and for the records these types stand for.)
    @strawberry.field(description="Every link of the document, oldest first.")
    @loads("links_by_document", "id")
    def links(self, info: Info) -> list[Link]:
        return info.context.links_by_document.load(self.id)  # type: ignore[arg-type, return-value]


@strawberry.type(description="A document tied to an entity, with an optional role.")
class Link:
    id: strawberry.ID
    document_id: strawberry.ID
    entity_type: EntityType
    entity_id: strawberry.ID
    role: str | None
    created_at: datetime

    @strawberry.field(description="The document (null if it was deleted meanwhile).")
    @loads("document_by_id", "document_id")
    def document(self, info: Info) -> Document | None:
        return info.context.document_by_id.load(self.document_id)  # type: ignore[arg-type, return-value]

    @strawberry.field(description="The entity the link points at.")
    @loads("entity_by_id", "entity_id")
    def entity(self, info: Info) -> Entity:
        return info.context.entity_by_id.load(self.entity_id)  # type: ignore[arg-type, return-value]


@strawberry.type(description="A document in an entity's list, and the link that put it there.")
class LinkedDocumentEdge:
    cursor: str
    node: Document
    role: str | None = strawberry.field(description="The link's role.")
    linked_at: datetime = strawberry.field(description="When the link was made.")
    link: Link


@strawberry.type(description="A page of an entity's documents, newest first.")
class LinkedDocumentConnection:
    edges: list[LinkedDocumentEdge]
    nodes: list[Document]
    page_info: PageInfo
    total_count: int


GRAPHQL_TYPE_NAMES = {
    EntityType.CONTACT: "Contact",
    EntityType.COMPANY: "Business",
    EntityType.DEAL: "Deal",
    EntityType.EVENT: "Event",
    EntityType.MATTER: "Matter",
    EntityType.TASK: "Task",
}


@strawberry.interface(description="Something documents are linked to.")
class Entity:
    id: strawberry.ID
    entity_type: EntityType
    name: str | None
    attributes: JSON
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="The entity's live documents, newest first, each with its "
                                  "link's role and time.")
    async def documents(
        self, info: Info,
        role: Annotated[str | None, strawberry.argument(
            description="Only documents linked with this role.")] = None,
        type: DocumentType | None = None,
        status: DocumentStatus | None = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        offset: Offset = None,
    ) -> LinkedDocumentConnection:
        query = documents_uc.entity_documents_query(
            self.id, role=role, type=type, status=status,
            page=PageRequest.parse(first, after, offset),
            with_links=lookahead.selects_document_links(info._raw_info.field_nodes))
        return await documents_uc.entity_document_page(  # type: ignore[return-value]
            info.context, query)

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
    name: str  # type: ignore[assignment]
    is_type_of = _is(EntityType.CONTACT)


@strawberry.type(description="A company (entity type COMPANY).")
class Business(Entity):
    name: str  # type: ignore[assignment]
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


@strawberry.type
class DocumentEdge:
    cursor: str
    node: Document


@strawberry.type(description="A page of documents, newest first.")
class DocumentConnection:
    edges: list[DocumentEdge]
    nodes: list[Document]
    page_info: PageInfo
    total_count: int


@strawberry.type
class EntityEdge:
    cursor: str
    node: Entity


@strawberry.type(description="A page of entities, newest first.")
class EntityConnection:
    edges: list[EntityEdge]
    nodes: list[Entity]
    page_info: PageInfo
    total_count: int


@strawberry.type
class LinkDocumentPayload:
    link: Link
    created: bool = strawberry.field(
        description="False when the link already existed (it is returned unchanged).")


@strawberry.type
class UnlinkDocumentPayload:
    link: Link = strawberry.field(description="The link as it was before its removal.")


@strawberry.type(description="An HTTP header to send with the upload.")
class HttpHeader:
    name: str
    value: str


@strawberry.type(description="Where and how to upload: send method to uploadUrl with "
                             "exactly these headers and the bytes as the body, before "
                             "expiresAt; then createDocument(storagePath).")
class RequestUploadUrlPayload:
    upload_url: str = strawberry.field(description="Signed: it needs no API key.")
    method: str = strawberry.field(description="PUT.")
    headers: list[HttpHeader] = strawberry.field(
        description="Content-Type (the declared MIME type) and If-None-Match: * (a URL "
                    "accepts one upload).")
    storage_path: str = strawberry.field(
        description="The object key docgraph chose, under the workspace's prefix: give it "
                    "to createDocument.")
    expires_at: datetime


@strawberry.type
class DeleteDocumentPayload:
    id: strawberry.ID
    deleted_at: datetime
