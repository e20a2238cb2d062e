"""GraphQL input types, and their conversion to the use cases' field mappings."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.base import has_object_definition

from docgraph.schema.types import DocumentStatus, DocumentType, EntityType, SafeInt


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


@strawberry.input(description="A file to upload: what requestUploadUrl signs a URL for.")
class RequestUploadUrlInput:
    file_name: str = strawberry.field(
        description="The file's name, 1-255 characters. It never becomes a path: only a "
                    "short alphanumeric extension is kept in the storage path.")
    mime_type: str = strawberry.field(
        description="IANA media type, e.g. application/pdf; the upload must send it as "
                    "Content-Type, and createDocument must name it.")
    size_bytes: SafeInt = strawberry.field(
        description="The exact size of the upload in bytes; counts toward the workspace's "
                    "quota from now on.")
    sha256: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="SHA-256 of the bytes (64 hex characters); createDocument then checks "
                    "the uploaded bytes against it.")


@strawberry.input(description="A document whose bytes were uploaded to storagePath through "
                              "requestUploadUrl.")
class CreateDocumentInput:
    name: str = strawberry.field(description="Display name, 1-255 characters.")
    mime_type: str = strawberry.field(
        description="IANA media type: the one declared to requestUploadUrl (another is a "
                    "validation_error).")
    storage_path: str = strawberry.field(
        description="requestUploadUrl's storagePath, once the bytes were uploaded there.")
    size_bytes: SafeInt | None = strawberry.field(
        default=strawberry.UNSET,
        description="Size in bytes; if given, must be the uploaded object's. Default: the "
                    "uploaded object's size.")
    sha256: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="SHA-256 of the bytes (hex); if given, the uploaded bytes are checked "
                    "against it (as they are against one declared to requestUploadUrl).")
    description: str | None = strawberry.UNSET
    folder: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Absolute folder path, e.g. /clients/acme/ndas; created on demand.")
    tags: list[str] = strawberry.field(default_factory=list,
                                       description="At most 50 tags of 1-64 characters.")
    type: DocumentType = DocumentType.OTHER
    user_data: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Any JSON object, at most 64 KiB (default {}).")


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateDocumentInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.field(default=strawberry.UNSET,
                                               description="null clears it.")
    folder: str | None = strawberry.field(default=strawberry.UNSET,
                                          description="null takes the document out of folders.")
    tags: list[str] | None = strawberry.field(default=strawberry.UNSET,
                                              description="Replaces the tags.")
    type: DocumentType | None = strawberry.UNSET
    user_data: JSON | None = strawberry.field(default=strawberry.UNSET,
                                              description="Replaces userData.")


@strawberry.input(description="An entity, by type and id.")
class EntityRef:
    entity_type: EntityType
    entity_id: strawberry.ID


@strawberry.input(description="Every given filter must match; omitted or null ones do not "
                              "filter.")
class DocumentFilter:
    folder: str | None = strawberry.field(default=strawberry.UNSET,
                                          description="Documents in this folder.")
    include_subfolders: bool | None = strawberry.field(
        default=strawberry.UNSET, description="With folder: its subfolders' documents too.")
    tags: list[str] | None = strawberry.field(default=strawberry.UNSET,
                                              description="Documents carrying all these tags.")
    type: DocumentType | None = strawberry.UNSET
    status: DocumentStatus | None = strawberry.UNSET
    mime_type: str | None = strawberry.field(
        default=strawberry.UNSET, description="A MIME type, or type/* (e.g. image/*).")
    name_contains: str | None = strawberry.field(
        default=strawberry.UNSET, description="Case-insensitive part of the name.")
    linked_to: EntityRef | None = strawberry.field(
        default=strawberry.UNSET, description="Documents linked to this entity.")


@strawberry.input
class CreateContactInput:
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The contact's id, e.g. the one it has in your system (default: new).")
    name: str
    attributes: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="A JSON object, at most 64 KiB (default {}).")


@strawberry.input
class UpdateContactInput:
    name: str | None = strawberry.UNSET
    attributes: JSON | None = strawberry.field(default=strawberry.UNSET,
                                               description="Replaces the attributes.")


@strawberry.input
class CreateBusinessInput:
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The business's id, e.g. the one it has in your system (default: new).")
    name: str
    attributes: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="A JSON object, at most 64 KiB (default {}).")


@strawberry.input
class UpdateBusinessInput:
    name: str | None = strawberry.UNSET
    attributes: JSON | None = strawberry.field(default=strawberry.UNSET,
                                               description="Replaces the attributes.")


@strawberry.input(description="An entity of any type; contacts and businesses need a name.")
class CreateEntityInput:
    entity_type: EntityType
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The entity's id, e.g. the one it has in your system (default: new).")
    name: str | None = strawberry.UNSET
    attributes: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="A JSON object, at most 64 KiB (default {}).")


@strawberry.input
class UpdateEntityInput:
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="null clears it (not for contacts and "
                                              "businesses).")
    attributes: JSON | None = strawberry.field(default=strawberry.UNSET,
                                               description="Replaces the attributes.")
