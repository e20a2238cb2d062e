"""The JSON of each seed, built from the use cases' records.

Each function returns exactly the fields its seed documents, under the
seed's names; nothing else leaks out. Timestamps are ISO 8601 in UTC with
millisecond precision and a ``Z`` (``2026-04-17T09:00:00.000Z``, seed 004's
spelling and JavaScript's ``toISOString``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from docgraph.resolvers.pagination import LinkedDocumentEdge
from docgraph.resolvers.records import (
    AttachmentType,
    DeletedDocument,
    DocumentRecord,
    DocumentStatus,
    EntityRecord,
    LinkRecord,
    PreviewImage,
    SignedUrl,
)
from docgraph.resolvers.uploads import UploadTicket


def timestamp(value: dt.datetime) -> str:
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def optional_timestamp(value: dt.datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def urn(value: uuid.UUID) -> str:
    """Seed 004 spells ids as ``urn:uuid:...`` (every id input accepts both spellings)."""
    return value.urn


def document_record(doc: DocumentRecord) -> dict[str, Any]:
    """Seed 002's document record (POST /v1/documents, GET /v1/documents/{id})."""
    return {
        "id": str(doc.id),
        "name": doc.name,
        "description": doc.description,
        "mime_type": doc.mime_type,
        "size_bytes": doc.size_bytes,
        "storage_path": doc.storage_path,
        "folder": doc.folder,
        "tags": doc.tags,
        "created_by": None if doc.created_by is None else str(doc.created_by),
        "created_at": timestamp(doc.created_at),
        "updated_at": timestamp(doc.updated_at),
    }


def deleted_document(deleted: DeletedDocument) -> dict[str, Any]:
    return {"id": str(deleted.id), "deleted_at": timestamp(deleted.deleted_at)}


def contact_document(edge: LinkedDocumentEdge) -> dict[str, Any]:
    """Seed 000's document object: the document with its link's role and time."""
    doc = edge.node
    return {
        "id": str(doc.id),
        "name": doc.name,
        "mime_type": doc.mime_type,
        "size_bytes": doc.size_bytes,
        "folder": doc.folder,
        "tags": doc.tags,
        "role": edge.role,
        "linked_at": timestamp(edge.linked_at),
        "created_at": timestamp(doc.created_at),
    }


def business_document(edge: LinkedDocumentEdge, business_id: uuid.UUID) -> dict[str, Any]:
    """Seed 004's document: ``verified_at`` only when verified, ``rejection_reason``
    only when rejected (absent otherwise, not null)."""
    doc = edge.node
    shaped: dict[str, Any] = {
        "id": urn(doc.id),
        "business_id": urn(business_id),
        "filename": doc.name,
        "type": str(doc.type),
        "status": str(doc.status),
        "mime_type": doc.mime_type,
        "size_bytes": doc.size_bytes,
        "user_data": doc.user_data,
        "created_at": timestamp(doc.created_at),
        "updated_at": timestamp(doc.updated_at),
    }
    if doc.status is DocumentStatus.VERIFIED and doc.verified_at is not None:
        shaped["verified_at"] = timestamp(doc.verified_at)
    if doc.status is DocumentStatus.REJECTED and doc.rejection_reason is not None:
        shaped["rejection_reason"] = doc.rejection_reason
    return shaped


def link(record: LinkRecord) -> dict[str, Any]:
    """Seed 001's link."""
    return {
        "link_id": str(record.id),
        "document_id": str(record.document_id),
        "entity_type": str(record.entity_type),
        "entity_id": str(record.entity_id),
        "role": record.role,
        "created_at": timestamp(record.created_at),
    }


def entity(record: EntityRecord) -> dict[str, Any]:
    """A contact, company (served as a business) or any other entity."""
    return {
        "id": str(record.id),
        "entity_type": str(record.entity_type),
        "name": record.name,
        "attributes": record.attributes,
        "created_at": timestamp(record.created_at),
        "updated_at": timestamp(record.updated_at),
    }


def upload_ticket(ticket: UploadTicket) -> dict[str, Any]:
    """Where and how to PUT a file's bytes (seed 002's signed-upload step)."""
    return {
        "upload_url": ticket.upload_url,
        "method": ticket.method,
        "headers": dict(ticket.headers),
        "storage_path": ticket.storage_path,
        "expires_at": timestamp(ticket.expires_at),
    }


def signed_url(signed: SignedUrl) -> dict[str, Any]:
    return {"url": signed.url, "expires_at": timestamp(signed.expires_at)}


def attachment(doc: DocumentRecord, download: SignedUrl,
               preview: PreviewImage | None) -> dict[str, Any]:
    """Seed 003's attachment: ``image`` for IMAGE attachments, ``document`` for the others;
    ``previewImage`` once an image's preview exists. The attachment's and its media's id
    are the document's. Sizes not known yet (an image not measured yet) are left out."""
    media: dict[str, Any] = {"id": str(doc.id), "url": download.url,
                             "urlExpirationDate": timestamp(download.expires_at)}
    shaped: dict[str, Any] = {"id": str(doc.id), "fileName": doc.name,
                              "mimeType": doc.mime_type,
                              "attachmentType": str(doc.attachment_type)}
    if doc.attachment_type is AttachmentType.IMAGE:
        if doc.image is not None:
            media["height"], media["width"] = doc.image.height, doc.image.width
        shaped["image"] = media
        if preview is not None:
            shaped["previewImage"] = {"id": str(doc.id), "url": preview.url,
                                      "height": preview.height, "width": preview.width,
                                      "urlExpirationDate": timestamp(preview.expires_at)}
    else:
        shaped["document"] = media
    return shaped
