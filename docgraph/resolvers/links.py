"""Link use cases: tie documents to entities (seed 001), untie them, list a document's."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from docgraph.db import links as links_db
from docgraph.errors import NotFound, Unavailable, ValidationError
from docgraph.resolvers import resources
from docgraph.resolvers import validation as v
from docgraph.resolvers.auth import READ_DOCUMENTS, WRITE_DOCUMENTS
from docgraph.resolvers.documents import load_document, require_document
from docgraph.resolvers.fields import Input
from docgraph.resolvers.records import LinkRecord, LinkResult

if TYPE_CHECKING:
    from docgraph.resolvers.context import RequestContext

# A concurrent request may create the same link between our insert and our read
# of it; a retry then finds it.
_ATTEMPTS = 3


def _parse(shape: Input, fields: Any, document_id: Any) -> dict[str, Any]:
    """``fields`` cleaned by ``shape``, with the document named apart (the REST path, a
    GraphQL argument) checked in the same pass as ``document_id``."""
    if not isinstance(fields, Mapping):
        raise ValidationError("Expected an object of fields.")
    if "document_id" in fields:
        raise v.fail({"document_id": "is not a field that can be set here"})
    return v.parse_fields({**fields, "document_id": document_id},
                          {"document_id": v.identifier, **shape.validators},
                          required=("document_id", *shape.required))


async def link_document(ctx: RequestContext, document_id: Any,
                        fields: Mapping[str, Any]) -> LinkResult:
    """Link a live document to an entity with an optional ``role`` (at most 64 characters).

    ``fields``: ``entity_type`` (contact, company, deal, event, matter, task),
    ``entity_id`` and ``role``. Linking the same (document, entity_type,
    entity_id) again returns the existing link unchanged, with
    ``created=False``. An unknown document or entity is ``NotFound``.
    """
    ctx.principal.require(WRITE_DOCUMENTS)
    cleaned = _parse(resources.LINK_CREATE, fields, document_id)
    for _ in range(_ATTEMPTS):
        row = await links_db.insert_link(
            ctx.db, ctx.workspace_id, uuid.uuid4(), document_id=cleaned["document_id"],
            entity_type=cleaned["entity_type"], entity_id=cleaned["entity_id"],
            role=cleaned.get("role"), actor=ctx.principal.actor,
        )
        if not row["document_found"]:
            raise NotFound("No such document.")
        if not row["entity_found"]:
            raise NotFound(f"No such {cleaned['entity_type']}.")
        if row["id"] is not None:
            ctx.loaders.links_by_document.clear(cleaned["document_id"])
            return LinkResult(link=LinkRecord.from_row(row), created=row["created"])
    raise Unavailable("The link is being changed concurrently; retry.")


async def unlink_document(ctx: RequestContext, document_id: Any,
                          fields: Mapping[str, Any]) -> LinkRecord:
    """Remove the link between a live document and an entity; returns what it was."""
    ctx.principal.require(WRITE_DOCUMENTS)
    cleaned = _parse(resources.LINK_TARGET, fields, document_id)
    row = await links_db.delete_link(ctx.db, ctx.workspace_id,
                                     document_id=cleaned["document_id"],
                                     entity_type=cleaned["entity_type"],
                                     entity_id=cleaned["entity_id"],
                                     actor=ctx.principal.actor)
    if row is None:
        await load_document(ctx, cleaned["document_id"])  # NotFound if it is the document
        raise NotFound("No such link.")
    ctx.loaders.links_by_document.clear(cleaned["document_id"])
    return LinkRecord.from_row(row)


async def document_links(ctx: RequestContext, document_id: Any) -> list[LinkRecord]:
    """Every link of a live document, oldest first."""
    ctx.principal.require(READ_DOCUMENTS)
    document = await require_document(ctx, document_id)
    return await ctx.links_by_document.load(document.id)
