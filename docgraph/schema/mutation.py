"""The Mutation root: every change needs the ``write:documents`` scope."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import entities as entities_uc
from docgraph.resolvers import links as links_uc
from docgraph.resolvers import uploads as uploads_uc
from docgraph.resolvers import webhooks as webhooks_uc
from docgraph.resolvers.records import EntityType as EntityKind
from docgraph.schema.info import Info
from docgraph.schema.inputs import (
    CreateBusinessInput,
    CreateContactInput,
    CreateDocumentInput,
    CreateEntityInput,
    CreateWebhookEndpointInput,
    RequestUploadUrlInput,
    UpdateBusinessInput,
    UpdateContactInput,
    UpdateDocumentInput,
    UpdateEntityInput,
    UpdateWebhookEndpointInput,
    provided,
)
from docgraph.schema.types import (
    Business,
    Contact,
    DeleteDocumentPayload,
    DeleteWebhookEndpointPayload,
    Document,
    Entity,
    EntityType,
    LinkDocumentPayload,
    RequestUploadUrlPayload,
    UnlinkDocumentPayload,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointSecretPayload,
)

DocumentId = Annotated[strawberry.ID, strawberry.argument(
    description="The document's id; unknown or deleted: not_found.")]
ContactId = Annotated[strawberry.ID, strawberry.argument(
    description="The contact's id; no contact has it: not_found.")]
BusinessId = Annotated[strawberry.ID, strawberry.argument(
    description="The business's id; no business has it: not_found.")]
EntityId = Annotated[strawberry.ID, strawberry.argument(
    description="The entity's id; unknown: not_found.")]
LinkedEntityType = Annotated[EntityType, strawberry.argument(
    description="The entity's type (COMPANY for a business).")]
Changes = "The fields to change; omitted ones stay as they are."
WebhookEndpointId = Annotated[strawberry.ID, strawberry.argument(
    description="The endpoint's id; unknown: not_found.")]
Sends = ("Needs manage:webhooks and read:documents (its deliveries carry what "
         "read:documents reads).")


@strawberry.type(description="The writes. Each needs an API key with the write:documents "
                             "scope, the webhook mutations manage:webhooks instead (without "
                             "it: insufficient_permissions).")
class Mutation:
    @strawberry.mutation(description="Step 1 of an upload: a signed URL to PUT the bytes to. "
                                     "Over the workspace's quota: quota_exceeded; object "
                                     "storage unreachable: unavailable.")
    async def request_upload_url(
        self, info: Info,
        input: Annotated[RequestUploadUrlInput, strawberry.argument(
            description="The file to upload: its name, MIME type, exact size and, "
                        "optionally, SHA-256.")],
    ) -> RequestUploadUrlPayload:
        return await uploads_uc.request_upload_url(  # type: ignore[return-value]
            info.context, provided(input))

    @strawberry.mutation(description="Step 3 of an upload: record the document once its "
                                     "bytes are at storagePath. The upload is verified first "
                                     "(validation_error naming the problem); a live document "
                                     "at the same storagePath: storage_conflict.")
    async def create_document(
        self, info: Info,
        input: Annotated[CreateDocumentInput, strawberry.argument(
            description="The document to record; invalid fields: one validation_error "
                        "naming each.")],
    ) -> Document:
        return await documents_uc.create_document(  # type: ignore[return-value]
            info.context, provided(input))

    @strawberry.mutation(description="Change a document's metadata.")
    async def update_document(
        self, info: Info, id: DocumentId,
        input: Annotated[UpdateDocumentInput, strawberry.argument(description=Changes)],
    ) -> Document:
        return await documents_uc.update_document(  # type: ignore[return-value]
            info.context, id, provided(input))

    @strawberry.mutation(description="Delete a document: it disappears from every query, "
                         "and every URL issued before for its bytes or preview answers 404.")
    async def delete_document(self, info: Info, id: DocumentId) -> DeleteDocumentPayload:
        return await documents_uc.delete_document(  # type: ignore[return-value]
            info.context, id)

    @strawberry.mutation(description="PENDING -> VERIFIED (sets verifiedAt); a "
                                     "document in another status: conflict.")
    async def verify_document(self, info: Info, id: DocumentId) -> Document:
        return await documents_uc.verify_document(  # type: ignore[return-value]
            info.context, id)

    @strawberry.mutation(description="PENDING -> REJECTED (sets rejectionReason); a "
                                     "document in another status: conflict.")
    async def reject_document(
        self, info: Info, id: DocumentId,
        reason: Annotated[str, strawberry.argument(description="1-1000 characters.")],
    ) -> Document:
        return await documents_uc.reject_document(  # type: ignore[return-value]
            info.context, id, reason)

    @strawberry.mutation(description="VERIFIED -> EXPIRED (clears verifiedAt); a "
                                     "document in another status: conflict.")
    async def expire_document(self, info: Info, id: DocumentId) -> Document:
        return await documents_uc.expire_document(  # type: ignore[return-value]
            info.context, id)

    @strawberry.mutation(description="Link a document to an entity. Linking the same "
                                     "document and entity again returns the existing link "
                                     "(created: false), unchanged.")
    async def link_document(
        self, info: Info, document_id: DocumentId, entity_type: LinkedEntityType,
        entity_id: Annotated[strawberry.ID, strawberry.argument(
            description="The entity's id; no entity of that type has it: not_found.")],
        role: Annotated[str | None, strawberry.argument(
            description="Free-form, at most 64 characters, e.g. signed.")] = None,
    ) -> LinkDocumentPayload:
        return await links_uc.link_document(  # type: ignore[return-value]
            info.context, document_id,
            {"entity_type": entity_type, "entity_id": entity_id, "role": role})

    @strawberry.mutation(description="Remove the link between a document and an entity.")
    async def unlink_document(
        self, info: Info, document_id: DocumentId, entity_type: LinkedEntityType,
        entity_id: Annotated[strawberry.ID, strawberry.argument(
            description="The entity's id; no link between it and the document: "
                        "not_found.")],
    ) -> UnlinkDocumentPayload:
        link = await links_uc.unlink_document(
            info.context, document_id, {"entity_type": entity_type, "entity_id": entity_id})
        return UnlinkDocumentPayload(link=link)  # type: ignore[arg-type]

    @strawberry.mutation(description="Create a contact (an entity of type CONTACT).")
    async def create_contact(
        self, info: Info,
        input: Annotated[CreateContactInput, strawberry.argument(
            description="The contact; an id the workspace already uses: conflict.")],
    ) -> Contact:
        return await _create(info, EntityKind.CONTACT, provided(input))

    @strawberry.mutation(description="Change a contact; clearing its name is a "
                                     "validation_error.")
    async def update_contact(
        self, info: Info, id: ContactId,
        input: Annotated[UpdateContactInput, strawberry.argument(description=Changes)],
    ) -> Contact:
        return await _update(info, id, EntityKind.CONTACT, provided(input))

    @strawberry.mutation(description="Create a business (an entity of type COMPANY).")
    async def create_business(
        self, info: Info,
        input: Annotated[CreateBusinessInput, strawberry.argument(
            description="The business; an id the workspace already uses: conflict.")],
    ) -> Business:
        return await _create(info, EntityKind.COMPANY, provided(input))

    @strawberry.mutation(description="Change a business; clearing its name is a "
                                     "validation_error.")
    async def update_business(
        self, info: Info, id: BusinessId,
        input: Annotated[UpdateBusinessInput, strawberry.argument(description=Changes)],
    ) -> Business:
        return await _update(info, id, EntityKind.COMPANY, provided(input))

    @strawberry.mutation(description="Create an entity of any type (deals, events, matters, "
                                     "tasks, and contacts or businesses too).")
    async def create_entity(
        self, info: Info,
        input: Annotated[CreateEntityInput, strawberry.argument(
            description="The entity; a contact or company without a name: "
                        "validation_error; an id the workspace already uses: conflict.")],
    ) -> Entity:
        fields = provided(input)
        return await _create(info, fields.pop("entity_type"), fields)

    @strawberry.mutation(description="Change an entity of any type.")
    async def update_entity(
        self, info: Info, id: EntityId,
        input: Annotated[UpdateEntityInput, strawberry.argument(description=Changes)],
    ) -> Entity:
        return await _update(info, id, None, provided(input))

    @strawberry.mutation(description="Register a webhook endpoint: the workspace's events "
                                     "(of the types it names) are POSTed to its URL from now "
                                     "on, signed with the secret this answers once. A URL "
                                     "that points at a non-public address: validation_error. "
                                     + Sends)
    async def create_webhook_endpoint(
        self, info: Info,
        input: Annotated[CreateWebhookEndpointInput, strawberry.argument(
            description="The endpoint: its URL, the event types it wants (default: all), a "
                        "description.")],
    ) -> WebhookEndpointSecretPayload:
        created = await webhooks_uc.create_endpoint(info.context, provided(input))
        return WebhookEndpointSecretPayload(
            endpoint=created.endpoint, secret=created.secret)  # type: ignore[arg-type]

    @strawberry.mutation(description="Change a webhook endpoint: its URL, event types, "
                                     "description, or whether it is enabled (enabling it "
                                     "again resumes its waiting deliveries). " + Sends)
    async def update_webhook_endpoint(
        self, info: Info, id: WebhookEndpointId,
        input: Annotated[UpdateWebhookEndpointInput, strawberry.argument(
            description=Changes)],
    ) -> WebhookEndpoint:
        return await webhooks_uc.update_endpoint(  # type: ignore[return-value]
            info.context, id, provided(input))

    @strawberry.mutation(description="Delete a webhook endpoint, with its deliveries and "
                                     "their attempts. Needs manage:webhooks.")
    async def delete_webhook_endpoint(self, info: Info,
                                      id: WebhookEndpointId) -> DeleteWebhookEndpointPayload:
        deleted = await webhooks_uc.delete_endpoint(info.context, id)
        return DeleteWebhookEndpointPayload(
            id=deleted.id, deleted_at=deleted.deleted_at)  # type: ignore[arg-type]

    @strawberry.mutation(description="A new signing secret for a webhook endpoint, answered "
                                     "once; deliveries are signed with the previous one too "
                                     "for DOCGRAPH_WEBHOOK_SECRET_OVERLAP_SECONDS (24 hours). "
                                     "Needs manage:webhooks.")
    async def rotate_webhook_secret(self, info: Info,
                                    id: WebhookEndpointId) -> WebhookEndpointSecretPayload:
        rotated = await webhooks_uc.rotate_secret(info.context, id)
        return WebhookEndpointSecretPayload(
            endpoint=rotated.endpoint, secret=rotated.secret)  # type: ignore[arg-type]

    @strawberry.mutation(description="Make a webhook delivery due now, whatever its status: "
                                     "one more attempt. Its endpoint disabled, or an attempt "
                                     "at it in progress: conflict. Needs manage:webhooks.")
    async def retry_webhook_delivery(
        self, info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(
            description="The delivery's id; unknown: not_found.")],
    ) -> WebhookDelivery:
        return await webhooks_uc.retry_delivery(  # type: ignore[return-value]
            info.context, id)


async def _create(info: Info, kind: EntityKind, fields: dict[str, Any]) -> Any:
    return await entities_uc.create_entity(info.context, kind, fields)


async def _update(info: Info, id: strawberry.ID, kind: EntityKind | None,
                  changes: dict[str, Any]) -> Any:
    return await entities_uc.update_entity(info.context, id, changes, kind)
