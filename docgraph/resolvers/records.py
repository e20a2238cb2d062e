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
            text_status=_TEXT_STATUSES[row["text_status"]], text_length=row["text_length"],
            text_status_reason=row["text_status_reason"],
        )


_DOCUMENT_FIELDS = len(dataclasses.fields(DocumentRecord))


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
