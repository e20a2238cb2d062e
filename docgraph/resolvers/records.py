"""The plain records the use cases return; GraphQL and REST both shape them.

Field names follow the seeds' snake_case (``mime_type``, ``linked_at``);
GraphQL exposes them in camelCase, REST as they are.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from docgraph.resolvers.pagination import LinkedDocumentEdge


class EntityType(StrEnum):
    CONTACT = "contact"
    COMPANY = "company"
    DEAL = "deal"
    EVENT = "event"
    MATTER = "matter"
    TASK = "task"


class DocumentType(StrEnum):
    IDENTIFICATION = "identification"
    BANK_STATEMENT = "bank_statement"
    TAX_FORM = "tax_form"
    CONTRACT = "contract"
    LICENSE = "license"
    OTHER = "other"


class DocumentStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ScanStatus(StrEnum):
    """Whether a virus scanner found the document's bytes clean.

    NOT_SCANNED: no scanner (and scanning is not mandatory): downloadable.
    PENDING: waiting for its scan. CLEAN: downloadable. INFECTED: never served.
    FAILED: the scanner stayed unreachable (scanned again once it answers) or
    refused the file.
    """

    NOT_SCANNED = "not_scanned"
    PENDING = "pending"
    CLEAN = "clean"
    INFECTED = "infected"
    FAILED = "failed"
class TextStatus(StrEnum):
    """Where a document's text extraction stands (for search)."""

    PENDING = "pending"  # not read yet
    DONE = "done"  # read: the text is searchable
    FAILED = "failed"  # the file could not be read (text_status_reason says why)
    SKIPPED = "skipped"  # nothing to read: a type without text, too large, no OCR


class LinkedDocumentOrder(StrEnum):
    """How an entity's documents are ordered, newest first."""

    CREATED_AT = "created_at"  # by when the document was recorded
    LINKED_AT = "linked_at"  # by when it was linked to the entity


class AttachmentType(StrEnum):
    """Seed 003's attachment kinds, derived from the MIME type."""

    IMAGE = "IMAGE"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


# The database's values to the enums, without Enum's slower call-by-value
# (the columns' check constraints allow no other value).
_ENTITY_TYPES = {member.value: member for member in EntityType}
_DOCUMENT_TYPES = {member.value: member for member in DocumentType}
_DOCUMENT_STATUSES = {member.value: member for member in DocumentStatus}
_SCAN_STATUSES = {member.value: member for member in ScanStatus}
_TEXT_STATUSES = {member.value: member for member in TextStatus}

# Content whose kind nobody knows: the generic binary type.
UNKNOWN_MIME_TYPES = frozenset({"application/octet-stream"})


@dataclasses.dataclass(frozen=True, slots=True)
class ImageSize:
    """An image's displayed size in pixels (EXIF orientation applied)."""

    width: int
    height: int


# Rows of the hot lists (documents, links, entities) are built by the dozen per
# request: plain slotted dataclasses, about three times cheaper to construct than
# frozen ones (whose __init__ goes through object.__setattr__ field by field).
# Treat them as read-only all the same.
@dataclasses.dataclass(slots=True, eq=False)
class DocumentRecord:
    id: uuid.UUID
    name: str
    description: str | None
    mime_type: str
    size_bytes: int
    storage_path: str
    folder: str | None
    tags: list[str]
    type: DocumentType
    status: DocumentStatus
    user_data: dict[str, Any]
    verified_at: datetime | None
    rejection_reason: str | None
    checksum_sha256: bytes | None
    image_width: int | None
    image_height: int | None
    preview_path: str | None
    preview_width: int | None
    preview_height: int | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    detected_mime_type: str | None
    scan_status: ScanStatus
    scan_signature: str | None
    scanned_at: datetime | None
    page_count: int | None
    text_status: TextStatus
    text_length: int | None
    text_status_reason: str | None

    @property
    def sha256(self) -> str | None:
        """The SHA-256 the bytes were verified against (hex), if one was declared."""
        return self.checksum_sha256.hex() if self.checksum_sha256 is not None else None

    @property
    def image(self) -> ImageSize | None:
        """The image's size, once the background job measured it."""
        if self.image_width is None or self.image_height is None:
            return None
        return ImageSize(self.image_width, self.image_height)

    @property
    def attachment_type(self) -> AttachmentType:
        if self.mime_type.startswith("image/"):
            return AttachmentType.IMAGE
        if self.mime_type in UNKNOWN_MIME_TYPES:
            return AttachmentType.UNKNOWN
        return AttachmentType.OTHER

    @classmethod
    def from_columns(cls, row: Any, start: int = 0) -> DocumentRecord:
        """From a row holding ``db.documents.DOCUMENT_COLUMNS``, in order, from ``start``.

        Positional: five times cheaper than by name, for the rows of every page.
        """
        record = cls(*row[start:start + _DOCUMENT_FIELDS])
        record.type = _DOCUMENT_TYPES[record.type]
        record.status = _DOCUMENT_STATUSES[record.status]
        record.scan_status = _SCAN_STATUSES[record.scan_status]
        record.text_status = _TEXT_STATUSES[record.text_status]
        return record

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DocumentRecord:
        return cls(
            id=row["id"], name=row["name"], description=row["description"],
            mime_type=row["mime_type"], size_bytes=row["size_bytes"],
            storage_path=row["storage_path"], folder=row["folder"], tags=row["tags"],
            type=_DOCUMENT_TYPES[row["type"]], status=_DOCUMENT_STATUSES[row["status"]],
            user_data=row["user_data"], verified_at=row["verified_at"],
            rejection_reason=row["rejection_reason"], checksum_sha256=row["checksum_sha256"],
            image_width=row["image_width"], image_height=row["image_height"],
            preview_path=row["preview_path"], preview_width=row["preview_width"],
            preview_height=row["preview_height"], created_by=row["created_by"],
            created_at=row["created_at"], updated_at=row["updated_at"],
            detected_mime_type=row["detected_mime_type"],
            scan_status=_SCAN_STATUSES[row["scan_status"]],
            scan_signature=row["scan_signature"], scanned_at=row["scanned_at"],
            page_count=row["page_count"],
            text_status=_TEXT_STATUSES[row["text_status"]], text_length=row["text_length"],
            text_status_reason=row["text_status_reason"],
        )


_DOCUMENT_FIELDS = len(dataclasses.fields(DocumentRecord))


@dataclasses.dataclass(frozen=True, slots=True)
class DocumentFile:
    """What docgraph found in a document's bytes, and whether it serves them."""

    id: uuid.UUID
    mime_type: str
    detected_mime_type: str | None
    scan_status: ScanStatus
    scan_signature: str | None
    scanned_at: datetime | None
    page_count: int | None
    downloadable: bool


@dataclasses.dataclass(frozen=True, slots=True)
class SignedUrl:
    """A URL that serves a document's bytes until ``expires_at`` (seed 003's url and
    urlExpirationDate)."""

    url: str
    expires_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class PreviewImage:
    """The reduced copy of an image document, and a URL that serves it (seed 003)."""

    url: str
    width: int
    height: int
    expires_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class DeletedDocument:
    id: uuid.UUID
    deleted_at: datetime


@dataclasses.dataclass(slots=True, eq=False)
class LinkRecord:
    id: uuid.UUID
    document_id: uuid.UUID
    entity_type: EntityType
    entity_id: uuid.UUID
    role: str | None
    created_at: datetime

    @classmethod
    def from_columns(cls, row: Any) -> LinkRecord:
        """From a row of exactly ``db.links.LINK_COLUMNS``, in order."""
        return cls(row[0], row[1], _ENTITY_TYPES[row[2]], row[3], row[4], row[5])

    @classmethod
    def of_document(cls, document_id: uuid.UUID, ids: list[uuid.UUID],
                    entity_types: list[str], entity_ids: list[uuid.UUID],
                    roles: list[str | None], created_at: list[datetime]) -> list[LinkRecord]:
        """A document's links, from parallel lists of their columns."""
        return [cls(ident, document_id, _ENTITY_TYPES[entity_type], entity_id, role, created)
                for ident, entity_type, entity_id, role, created
                in zip(ids, entity_types, entity_ids, roles, created_at, strict=True)]

    @classmethod
    def from_row(cls, row: Mapping[str, Any], prefix: str = "") -> LinkRecord:
        return cls(
            id=row[prefix + "id"], document_id=row[prefix + "document_id"],
            entity_type=_ENTITY_TYPES[row[prefix + "entity_type"]],
            entity_id=row[prefix + "entity_id"], role=row[prefix + "role"],
            created_at=row[prefix + "created_at"],
        )


@dataclasses.dataclass(frozen=True, slots=True)
class LinkResult:
    """A link, and whether this request created it (REST: 201) or found it (200)."""

    link: LinkRecord
    created: bool


@dataclasses.dataclass(slots=True, eq=False)
class EntityRecord:
    id: uuid.UUID
    entity_type: EntityType
    name: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any], prefix: str = "") -> EntityRecord:
        return cls(
            id=row[prefix + "id"], entity_type=_ENTITY_TYPES[row[prefix + "entity_type"]],
            name=row[prefix + "name"], attributes=row[prefix + "attributes"],
            created_at=row[prefix + "created_at"], updated_at=row[prefix + "updated_at"],
        )


# -- events ------------------------------------------------------------------------

# Every event type, with what makes it. The type is ``object.change``; data holds the
# object under the first part's name (a link's events are about its document).
EVENT_TYPES: Mapping[str, str] = {
    "document.created": "A document was recorded (createDocument, POST /v1/documents). "
                        "data.document: the document.",
    "document.updated": "A document's metadata changed (updateDocument, PATCH "
                        "/v1/documents/{id}), or the system measured an image document "
                        "(its image size and preview) or a PDF (its page count and "
                        "preview). data.document: the document after.",
    "document.scanned": "The virus scan's result was recorded (by the system): scanStatus "
                        "CLEAN, INFECTED (with scanSignature) or FAILED. data.document: the "
                        "document after.",
    "document.deleted": "A document was deleted (deleteDocument, DELETE /v1/documents/{id}); "
                        "its links went with it. data.document: the document as it was "
                        "deleted, with the links it lost and deletedAt.",
    "document.verified": "PENDING -> VERIFIED (verifyDocument). data.document: the document "
                         "after.",
    "document.rejected": "PENDING -> REJECTED (rejectDocument). data.document: the document "
                         "after.",
    "document.expired": "VERIFIED -> EXPIRED (expireDocument). data.document: the document "
                        "after.",
    "document.linked": "A document was linked to an entity (linkDocument, POST "
                       "/v1/documents/{id}/link); linking again makes no event. data.link: "
                       "the new link.",
    "document.unlinked": "A link was removed (unlinkDocument, DELETE "
                         "/v1/documents/{id}/link). data.link: the link as it was.",
    "entity.created": "An entity was created (createContact, createBusiness, createEntity, "
                      "POST /v1/contacts, /v1/businesses, /v1/entities). data.entity: the "
                      "entity.",
    "entity.updated": "An entity changed (updateContact, updateBusiness, updateEntity, PATCH "
                      "on them). data.entity: the entity after.",
}

# The actor of the events no API key caused (background jobs, the command line).
SYSTEM_ACTOR = "system"
# The largest txid or sequence number a position may name (PostgreSQL's bigint).
POSITION_MAX = 2**63 - 1


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class EventPosition:
    """Where an event sits in the order readers of the outbox follow: its transaction,
    then its sequence number. Spelled as the event's id, ``evt_`` and 32 hex digits,
    so ids sort as their events are delivered."""

    txid: int
    seq: int

    @property
    def token(self) -> str:
        return f"evt_{self.txid:016x}{self.seq:016x}"


@dataclasses.dataclass(slots=True, eq=False)
class EventRecord:
    """One change, as recorded with it: see ``db.events``."""

    seq: int
    txid: int
    type: str
    occurred_at: datetime
    actor: str
    document_id: uuid.UUID | None
    entity_ids: list[uuid.UUID]
    data: dict[str, Any]

    @property
    def position(self) -> EventPosition:
        return EventPosition(self.txid, self.seq)

    @property
    def id(self) -> str:
        return self.position.token

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> EventRecord:
        return cls(seq=row["seq"], txid=row["txid"], type=row["type"],
                   occurred_at=row["occurred_at"], actor=row["actor"],
                   document_id=row["document_id"], entity_ids=row["entity_ids"],
                   data=row["data"])


# -- webhooks -----------------------------------------------------------------------


class DeliveryStatus(StrEnum):
    """A webhook delivery: PENDING until an attempt succeeds (SUCCEEDED) or its retries
    run out (FAILED)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class AttemptStatus(StrEnum):
    """One attempt at a delivery."""

    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its instance stopped before it finished


@dataclasses.dataclass(slots=True, eq=False)
class WebhookEndpointRecord:
    """A URL a workspace gets its events at (its secret is never shown again)."""

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> WebhookEndpointRecord:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookSecret:
    """An endpoint and its new signing secret (``whsec_...``), shown this once."""

    endpoint: WebhookEndpointRecord
    secret: str


@dataclasses.dataclass(frozen=True, slots=True)
class DeletedWebhookEndpoint:
    id: uuid.UUID
    deleted_at: datetime


@dataclasses.dataclass(slots=True, eq=False)
class WebhookAttemptRecord:
    number: int
    status: AttemptStatus
    started_at: datetime
    duration_ms: int | None
    response_status: int | None
    response_body: str | None
    error: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> WebhookAttemptRecord:
        return cls(number=row["number"], status=AttemptStatus(row["status"]),
                   started_at=row["started_at"], duration_ms=row["duration_ms"],
                   response_status=row["response_status"],
                   response_body=row["response_body"], error=row["error"])


@dataclasses.dataclass(slots=True, eq=False)
class WebhookDeliveryRecord:
    """One event to one endpoint, and every attempt at it."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    attempts: list[WebhookAttemptRecord] = dataclasses.field(default_factory=list)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> WebhookDeliveryRecord:
        status = DeliveryStatus(row["status"])
        return cls(id=row["id"], endpoint_id=row["endpoint_id"],
                   event_id=EventPosition(row["event_txid"], row["event_seq"]).token,
                   event_type=row["event_type"], status=status,
                   attempt_count=row["attempts"],
                   next_attempt_at=row["next_attempt_at"], created_at=row["created_at"],
                   last_attempt_at=row["last_attempt_at"], delivered_at=row["delivered_at"])


class _Edge(Protocol):
    @property
    def cursor(self) -> str: ...

    @property
    def node(self) -> Any: ...


N = TypeVar("N")
E = TypeVar("E", bound=_Edge)


@dataclasses.dataclass(frozen=True, slots=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Page(Generic[E]):
    """One page of a list, newest first.

    ``offset`` is how many items precede this page in the whole list (None
    for a page after a cursor where nobody counted them), ``total_count`` how
    many items the list has (None where nobody asked).
    """

    edges: list[E]
    total_count: int | None
    offset: int | None
    limit: int
    page_info: PageInfo

    @property
    def nodes(self) -> list[Any]:
        return [edge.node for edge in self.edges]


@dataclasses.dataclass(frozen=True, slots=True)
class EntityDocuments:
    """An entity and one page of its live documents."""

    owner: EntityRecord
    page: Page[LinkedDocumentEdge]
