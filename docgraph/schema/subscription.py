"""The Subscription root: the workspace's events, live, over WebSocket (``schema.websocket``).

Each field checks its arguments and the key's scope before it returns its stream
(``resolvers.subscriptions.follow_events``): a refusal is the subscription's one
error, sent before any event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry

from docgraph.resolvers import resources as r
from docgraph.resolvers import subscriptions as subscriptions_uc
from docgraph.schema.fields import graphql_text
from docgraph.schema.info import Info
from docgraph.schema.types import ChangeEvent


def _about(name: str, extra: str = "") -> str | None:
    for accepts in r.EVENT_STREAM.fields:
        if accepts.name == name:
            return graphql_text((accepts.about or "") + extra)
    raise KeyError(name)


Types = Annotated[list[str] | None, strawberry.argument(description=_about(
    "types", " Unknown types are a validation_error."))]
DocumentId = Annotated[strawberry.ID | None, strawberry.argument(
    description=_about("document_id", " A UUID; an id of another workspace matches nothing."))]
EntityId = Annotated[strawberry.ID | None, strawberry.argument(
    description=_about("entity_id", " A UUID; an id of another workspace matches nothing."))]
DocumentTypes = Annotated[list[str] | None, strawberry.argument(
    description="Only events of these types, each a document event (document.*); other or "
                "unknown types are a validation_error. Default: every document event.")]
DocumentEntityId = Annotated[strawberry.ID | None, strawberry.argument(
    description="Only the events of the documents linked to this entity when they happened "
                "(document.linked and document.unlinked included). A UUID; an id of another "
                "workspace matches nothing.")]
After = Annotated[strawberry.ID | None, strawberry.argument(
    description=_about("after", " An event id (evt_ and 32 hex digits)."))]

_COMMON = ("Needs an API key with read:documents (sent in connection_init). Events come in "
           "id order, each once; a subscriber that reconnects passes the last id it "
           "received as after and misses nothing.")


def _arguments(**given: Any) -> dict[str, Any]:
    return {name: value for name, value in given.items() if value is not None}


@strawberry.type(description="Live events, over WebSocket at /graphql (the "
                             "graphql-transport-ws protocol).")
class Subscription:
    @strawberry.subscription(description="The workspace's document events (document.*: "
                                         "created, updated, linked, deleted, ...) as they "
                                         "happen: of one document (documentId), or of the "
                                         "documents linked to an entity (entityId), or all. "
                                         + _COMMON)
    async def document_events(
        self, info: Info, document_id: DocumentId = None, entity_id: DocumentEntityId = None,
        types: DocumentTypes = None, after: After = None,
    ) -> AsyncGenerator[ChangeEvent, None]:
        return await subscriptions_uc.follow_events(  # type: ignore[return-value]
            info.context,  # type: ignore[arg-type]
            _arguments(document_id=document_id, entity_id=entity_id, types=types,
                       after=after), documents_only=True)

    @strawberry.subscription(description="Every event of the workspace (documents, links, "
                                         "entities) as it happens, optionally filtered. "
                                         + _COMMON)
    async def events(
        self, info: Info, types: Types = None, document_id: DocumentId = None,
        entity_id: EntityId = None, after: After = None,
    ) -> AsyncGenerator[ChangeEvent, None]:
        return await subscriptions_uc.follow_events(  # type: ignore[return-value]
            info.context,  # type: ignore[arg-type]
            _arguments(types=types, document_id=document_id, entity_id=entity_id,
                       after=after))
