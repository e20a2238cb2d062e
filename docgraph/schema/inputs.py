"""GraphQL input types, made from the resources' declared inputs, and their conversion
to the use cases' field mappings."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types.base import has_object_definition

from docgraph.resolvers import resources as r
from docgraph.schema.fields import input_of


def provided(value: Any) -> Any:
    """An input object as a dict of the fields the caller gave (nested ones too).

    Omitted fields are left out (an update leaves them alone); explicit
    nulls stay (an update clears the field).
    """
    if isinstance(value, list):
        return [provided(item) for item in value]
    if not has_object_definition(value):
        return value
    fields = value.__strawberry_definition__.fields
    return {field.python_name: provided(getattr(value, field.python_name))
            for field in fields if getattr(value, field.python_name) is not strawberry.UNSET}


@input_of(r.UPLOAD_REQUEST)
class RequestUploadUrlInput:
    """A file to upload: what requestUploadUrl signs a URL for."""


@input_of(r.DOCUMENT_CREATE)
class CreateDocumentInput:
    """A document whose bytes were uploaded to storagePath through requestUploadUrl."""


@input_of(r.DOCUMENT_UPDATE)
class UpdateDocumentInput:
    pass


@input_of(r.DOCUMENT_FILTER)
class DocumentFilter:
    pass


@input_of(r.NAMED_ENTITY_CREATE)
class CreateContactInput:
    """A contact; its id is optional (your own, or a new one)."""


@input_of(r.ENTITY_UPDATE)
class UpdateContactInput:
    """The contact's fields to change; omitted fields stay as they are."""


@input_of(r.NAMED_ENTITY_CREATE)
class CreateBusinessInput:
    """A business; its id is optional (your own, or a new one)."""


@input_of(r.ENTITY_UPDATE)
class UpdateBusinessInput:
    """The business's fields to change; omitted fields stay as they are."""


@input_of(r.ENTITY_CREATE)
class CreateEntityInput:
    pass


@input_of(r.ENTITY_UPDATE)
class UpdateEntityInput:
    pass


@input_of(r.EVENT_FILTER)
class ChangeEventFilter:
    pass


@input_of(r.WEBHOOK_ENDPOINT_CREATE)
class CreateWebhookEndpointInput:
    """An endpoint to deliver the workspace's events to."""


@input_of(r.WEBHOOK_ENDPOINT_UPDATE)
class UpdateWebhookEndpointInput:
    """The endpoint's fields to change; omitted fields stay as they are."""
