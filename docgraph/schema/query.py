"""The Query root: every read needs the ``read:documents`` scope."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from docgraph.errors import NotFound
from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import entities as entities_uc
from docgraph.resolvers import events as events_uc
from docgraph.resolvers import search as search_uc
from docgraph.resolvers import webhooks as webhooks_uc
from docgraph.resolvers.pagination import DEFAULT_PAGE_SIZE, PageRequest
from docgraph.resolvers.records import EntityType as EntityKind
from docgraph.schema import lookahead
from docgraph.schema.info import Info
from docgraph.schema.inputs import ChangeEventFilter, DocumentFilter, provided
from docgraph.schema.types import (
    After,
    Business,
    ChangeEventConnection,
    Contact,
    Document,
    DocumentConnection,
    DocumentSearchConnection,
    Entity,
    EntityConnection,
    EntityType,
    First,
    Offset,
    WebhookDelivery,
    WebhookEndpoint,
)

DocumentId = Annotated[strawberry.ID, strawberry.argument(
    description="The document's id, a UUID (anything else is a validation_error).")]
ContactId = Annotated[strawberry.ID, strawberry.argument(
    description="The contact's id, a UUID (anything else is a validation_error).")]
BusinessId = Annotated[strawberry.ID, strawberry.argument(
    description="The business's id, a UUID (anything else is a validation_error).")]
EntityId = Annotated[strawberry.ID, strawberry.argument(
    description="The entity's id, a UUID (anything else is a validation_error).")]


async def _entity(info: Info, id: strawberry.ID, kind: EntityKind | None) -> Any:
    return await entities_uc.get_entity(info.context, id, kind,
                                        with_documents=lookahead.documents_query(info, id))


WebhookEndpointId = Annotated[strawberry.ID, strawberry.argument(
    description="The endpoint's id, a UUID (anything else is a validation_error).")]
WebhookDeliveryId = Annotated[strawberry.ID, strawberry.argument(
    description="The delivery's id, a UUID (anything else is a validation_error).")]


@strawberry.type(description="The reads. Each needs an API key with the read:documents "
                             "scope, the webhook fields manage:webhooks instead (without it: "
                             "insufficient_permissions).")
class Query:
    @strawberry.field(description="A document by id; null if there is none (or it was "
                                  "deleted).")
    async def document(self, info: Info, id: DocumentId) -> Document | None:
        return await documents_uc.get_document(info.context, id)  # type: ignore[return-value]

    @strawberry.field(description="The workspace's documents, newest first.")
    async def documents(
        self, info: Info,
        filter: Annotated[DocumentFilter | None, strawberry.argument(
            description="Only the documents it matches (default: all).")] = None,
        first: First = DEFAULT_PAGE_SIZE, after: After = None, offset: Offset = None,
    ) -> DocumentConnection:
        page = PageRequest.parse(first, after, offset)
        return await documents_uc.list_documents(  # type: ignore[return-value]
            info.context, provided(filter) if filter else None, page,
            with_total=lookahead.may_select(info._raw_info.field_nodes, "totalCount"))

    @strawberry.field(description="Full-text search: the workspace's documents that match "
                                  "the query (and the filter), best first. The query is "
                                  "words that must all be there (stemmed: signed finds "
                                  "sign), \"quoted phrases\", -excluded words and OR "
                                  "between alternatives; it searches names (a misspelt or "
                                  "partial name matches too), tags, folders, descriptions "
                                  "and the text inside the files.")
    async def search_documents(
        self, info: Info,
        query: Annotated[str, strawberry.argument(
            description="What to look for, 1-500 characters, e.g. "
                        "'\"signed with acme\" nda -draft'.")],
        filter: Annotated[DocumentFilter | None, strawberry.argument(
            description="Only the documents it matches (default: all).")] = None,
        first: First = DEFAULT_PAGE_SIZE, after: After = None, offset: Offset = None,
    ) -> DocumentSearchConnection:
        page = search_uc.SearchPage.parse(first, after, offset)
        fields = info._raw_info.field_nodes
        return await search_uc.search_documents(  # type: ignore[return-value]
            info.context, query, provided(filter) if filter else None, page,
            with_total=lookahead.may_select(fields, "totalCount"),
            with_snippet=lookahead.may_select_on_edges(fields, "snippet"))

    @strawberry.field(description="A contact by id; null if there is none.")
    async def contact(self, info: Info, id: ContactId) -> Contact | None:
        return await _entity(info, id, EntityKind.CONTACT)

    @strawberry.field(description="A business (company) by id; null if there is none.")
    async def business(self, info: Info, id: BusinessId) -> Business | None:
        return await _entity(info, id, EntityKind.COMPANY)

    @strawberry.field(description="An entity of any type by id; null if there is none.")
    async def entity(self, info: Info, id: EntityId) -> Entity | None:
        return await _entity(info, id, None)

    @strawberry.field(description="The workspace's entities, newest first.")
    async def entities(
        self, info: Info,
        type: Annotated[EntityType | None, strawberry.argument(
            description="Only entities of this type.")] = None,
        name_contains: Annotated[str | None, strawberry.argument(
            description="Case-insensitive part of the name.")] = None,
        first: First = DEFAULT_PAGE_SIZE, after: After = None, offset: Offset = None,
    ) -> EntityConnection:
        page = PageRequest.parse(first, after, offset)
        return await entities_uc.list_entities(  # type: ignore[return-value]
            info.context, entity_type=type, name_contains=name_contains, page=page,
            with_total=lookahead.may_select(info._raw_info.field_nodes, "totalCount"))

    @strawberry.field(description="The workspace's audit trail: every change to its "
                                  "documents, links and entities, newest first, kept "
                                  "DOCGRAPH_EVENT_RETENTION_DAYS days (90 by default).")
    async def events(
        self, info: Info,
        filter: Annotated[ChangeEventFilter | None, strawberry.argument(
            description="Only the events it matches (default: all).")] = None,
        first: First = DEFAULT_PAGE_SIZE, after: After = None, offset: Offset = None,
    ) -> ChangeEventConnection:
        page = PageRequest.parse(first, after, offset)
        return await events_uc.list_events(  # type: ignore[return-value]
            info.context, provided(filter) if filter else None, page,
            with_total=lookahead.may_select(info._raw_info.field_nodes, "totalCount"))

    @strawberry.field(description="The workspace's webhook endpoints, oldest first. Needs "
                                  "manage:webhooks.")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        return await webhooks_uc.list_endpoints(info.context)  # type: ignore[return-value]

    @strawberry.field(description="A webhook endpoint by id, with its deliveries and their "
                                  "attempts; null if there is none. Needs manage:webhooks.")
    async def webhook_endpoint(self, info: Info,
                               id: WebhookEndpointId) -> WebhookEndpoint | None:
        return await webhooks_uc.get_endpoint(info.context, id)  # type: ignore[return-value]

    @strawberry.field(description="A webhook delivery by id, with its attempts; null if "
                                  "there is none. Needs manage:webhooks.")
    async def webhook_delivery(self, info: Info,
                               id: WebhookDeliveryId) -> WebhookDelivery | None:
        try:
            return await webhooks_uc.get_delivery(  # type: ignore[return-value]
                info.context, id)
        except NotFound:
            return None
