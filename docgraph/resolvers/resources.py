"""Every resource's shape, declared once: documents, links, entities, uploads, workspaces.

Each field is declared here with what it holds (its :class:`~.fields.Kind`:
rule, JSON Schema, GraphQL type) and what it means; each operation's input
lists the fields it accepts. The use cases validate with these inputs;
GraphQL's types and inputs, REST's seed-exact shapes and the OpenAPI
document are derived from them (``schema.fields``, ``rest.views``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from docgraph.resolvers import validation as v
from docgraph.resolvers import webhook_urls
from docgraph.resolvers.fields import (
    Accepts,
    Field,
    GraphQLType,
    Input,
    Kind,
    Output,
    Schema,
    accepts,
)
from docgraph.resolvers.pagination import MAX_OFFSET, MAX_PAGE_SIZE
from docgraph.resolvers.records import (
    EVENT_TYPES,
    AttachmentType,
    AttemptStatus,
    DeliveryStatus,
    DocumentStatus,
    DocumentType,
    EntityType,
    ScanStatus,
    TextStatus,
)

TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"


def timestamp(value: dt.datetime) -> str:
    """A time as REST shows it: ISO 8601 in UTC with milliseconds and a ``Z``
    (``2026-04-17T09:00:00.000Z``, seed 004's spelling and JavaScript's ``toISOString``)."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _string(**constraints: Any) -> Schema:
    return {"type": "string", **constraints}


def _text(low: int, high: int) -> Schema:
    return _string(minLength=low, maxLength=high) if low else _string(maxLength=high)


def _enum(values: type[Any]) -> Schema:
    return {"type": "string", "enum": [member.value for member in values]}


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise v.Invalid("must be true or false")
    return value


# -- kinds ---------------------------------------------------------------------------

ID = Kind(GraphQLType.ID, validate=v.identifier, json=str,
          input_schema=_string(minLength=1, maxLength=64,
                               description="A UUID, also spelled urn:uuid:..."),
          output_schema=_string(format="uuid"))
NAME = Kind(GraphQLType.STRING, _text(1, v.NAME_MAX), validate=v.document_name)
ENTITY_NAME = Kind(GraphQLType.STRING, _text(1, v.NAME_MAX), validate=v.entity_name)
DESCRIPTION = Kind(GraphQLType.STRING, _text(0, v.DESCRIPTION_MAX), validate=v.description)
ROLE = Kind(GraphQLType.STRING, _text(1, v.ROLE_MAX), validate=v.role)
SEARCH = Kind(GraphQLType.STRING, _text(1, v.SEARCH_MAX), validate=v.search_text)
MIME_TYPE = Kind(GraphQLType.STRING, _text(3, v.MIME_TYPE_MAX), validate=v.mime_type)
MIME_TYPE_PATTERN = Kind(GraphQLType.STRING, _text(3, v.MIME_TYPE_MAX),
                         validate=v.mime_type_pattern)
STORAGE_PATH = Kind(GraphQLType.STRING, _text(1, v.PATH_MAX), validate=v.storage_path)
FOLDER = Kind(GraphQLType.STRING, _text(1, v.PATH_MAX), validate=v.folder)
TAGS = Kind(GraphQLType.STRING, list_of=True, validate=v.tags,
            input_schema={"type": "array", "items": _text(1, v.TAG_MAX),
                          "maxItems": v.TAGS_MAX})
SHA256 = Kind(GraphQLType.STRING, _string(pattern="^[0-9a-fA-F]{64}$"), validate=v.sha256,
              output_schema=_string(pattern="^[0-9a-f]{64}$"))
SIZE = Kind(GraphQLType.SAFE_INT, {"type": "integer", "minimum": 0,
                                   "maximum": v.SAFE_INTEGER_MAX}, validate=v.size_bytes)
COUNT = Kind(GraphQLType.INT, {"type": "integer", "minimum": 0})
PIXELS = Kind(GraphQLType.INT, {"type": "integer", "minimum": 1})
PAGES = Kind(GraphQLType.INT, {"type": "integer", "minimum": 1})
JSON_OBJECT = Kind(GraphQLType.JSON, {"type": "object"}, validate=v.json_object)
BOOLEAN = Kind(GraphQLType.BOOLEAN, {"type": "boolean"}, validate=_boolean)
TIMESTAMP = Kind(GraphQLType.DATETIME, json=timestamp, output_schema={
    "type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN,
    "description": "ISO 8601, UTC, milliseconds, e.g. 2026-04-17T09:00:00.000Z"})
TIME = Kind(GraphQLType.DATETIME, _string(
    maxLength=64, description="ISO 8601, e.g. 2026-04-17T09:00:00Z (UTC unless it says "
                              "otherwise), or a date"), validate=v.timestamp)
QUERY = Kind(GraphQLType.STRING, _text(1, v.QUERY_MAX), validate=v.query_text)
URL = Kind(GraphQLType.STRING, output_schema=_string(format="uri"))
TEXT = Kind(GraphQLType.STRING, output_schema=_string())
ENTITY_TYPE = Kind(EntityType, _enum(EntityType), validate=v.entity_type)
DOCUMENT_TYPE = Kind(DocumentType, _enum(DocumentType), validate=v.document_type)
DOCUMENT_STATUS = Kind(DocumentStatus, _enum(DocumentStatus), validate=v.document_status)
SCAN_STATUS = Kind(ScanStatus, _enum(ScanStatus), validate=v.scan_status)
ATTACHMENT_TYPE = Kind(AttachmentType, output_schema=_enum(AttachmentType))
TEXT_STATUS = Kind(TextStatus, output_schema=_enum(TextStatus))
IMAGE_SIZE = Kind("ImageSize")
SCOPES = Kind(GraphQLType.STRING, list_of=True,
              output_schema={"type": "array", "items": _string()})

# -- documents -----------------------------------------------------------------------

_ID = Field("id", ID, "The document's id.")
DOCUMENT_NAME = Field("name", NAME, "Display name, 1-255 characters.")
DOCUMENT_DESCRIPTION = Field("description", DESCRIPTION,
                             "Free text, at most 10,000 characters.", nullable=True)
DOCUMENT_MIME_TYPE = Field("mime_type", MIME_TYPE, "IANA media type, e.g. application/pdf.")
DOCUMENT_SIZE = Field("size_bytes", SIZE, "Size of the bytes.")
DOCUMENT_STORAGE_PATH = Field("storage_path", STORAGE_PATH,
                              "Object key where the bytes live, under the workspace's prefix.")
DOCUMENT_FOLDER = Field("folder", FOLDER,
                        "Absolute folder path, e.g. /clients/acme/ndas; created on demand.",
                        nullable=True)
DOCUMENT_TAGS = Field("tags", TAGS, "At most 50 tags of 1-64 characters.")
DOCUMENT_KIND = Field("type", DOCUMENT_TYPE, "What kind of document it is.")
DOCUMENT_USER_DATA = Field("user_data", JSON_OBJECT,
                           "Any JSON object of yours, at most 64 KiB.")
DOCUMENT_SHA256 = Field("sha256", SHA256,
                        "SHA-256 of the bytes (hex), when one was declared and verified.",
                        nullable=True)

DOCUMENT = Output("Document", "A file's metadata; its bytes live in object storage.", (
    _ID,
    DOCUMENT_NAME,
    DOCUMENT_DESCRIPTION,
    DOCUMENT_MIME_TYPE,
    DOCUMENT_SIZE,
    DOCUMENT_STORAGE_PATH,
    DOCUMENT_FOLDER,
    DOCUMENT_TAGS,
    DOCUMENT_KIND,
    Field("status", DOCUMENT_STATUS,
          "Verification status: pending, then verified or rejected; verified, then expired."),
    DOCUMENT_USER_DATA,
    Field("verified_at", TIMESTAMP, "When it was verified; set while status is VERIFIED.",
          nullable=True),
    Field("rejection_reason", TEXT, "Why it was rejected; set while status is REJECTED.",
          nullable=True),
    Field("created_by", ID, "The API key that recorded the document.", nullable=True),
    Field("created_at", TIMESTAMP, "When the document was recorded."),
    Field("updated_at", TIMESTAMP, "When its metadata last changed."),
    Field("attachment_type", ATTACHMENT_TYPE,
          "IMAGE for image/* types, UNKNOWN for application/octet-stream, OTHER for the "
          "rest (seed 003)."),
    DOCUMENT_SHA256,
    Field("image", IMAGE_SIZE,
          "For PNG, JPEG, GIF and WebP images: their size, measured in the background "
          "shortly after recording (null until then, and for files that are not really "
          "images).", nullable=True),
    Field("detected_mime_type", TEXT,
          "The type read from the bytes when the document was recorded (null for an empty "
          "file); text/plain or application/octet-stream when the detector could tell no "
          "more.", nullable=True),
    Field("scan_status", SCAN_STATUS,
          "The virus scan: PENDING until a scanner looked at the bytes, then CLEAN, INFECTED "
          "or FAILED; NOT_SCANNED where no scanner is configured. Download and preview URLs "
          "are refused unless CLEAN (or NOT_SCANNED where scanning is not mandatory)."),
    Field("scan_signature", TEXT, "What the scanner found; set while scan_status is "
                                  "INFECTED.", nullable=True),
    Field("scanned_at", TIMESTAMP, "When the scan's result was recorded.", nullable=True),
    Field("page_count", PAGES,
          "For PDFs: how many pages, counted in the background after recording (null "
          "until then, and for PDFs that are encrypted or broken).", nullable=True),
    Field("text_status", TEXT_STATUS,
          "Where the extraction of the text inside the file (for search) stands: PENDING "
          "until the background job read it, then DONE, FAILED (the file could not be read) "
          "or SKIPPED (nothing to read: a type without text, a file too large, no OCR)."),
    Field("text_length", COUNT, "How many characters of text were extracted, once DONE.",
          nullable=True),
    Field("text_status_reason", TEXT, "Why the extraction FAILED or was SKIPPED.",
          nullable=True),
))

DOCUMENT_CREATE = Input(
    "DocumentCreate",
    "A document whose bytes were uploaded to `storage_path` through a signed upload URL.",
    accepts(
        (DOCUMENT_NAME,
         DOCUMENT_MIME_TYPE.described(
             "IANA media type: the one declared for the upload (another is a "
             "validation_error)."),
         DOCUMENT_STORAGE_PATH.described(
             "The upload's `storage_path`, once the bytes were uploaded there."),
         DOCUMENT_SIZE.described(
             "Size in bytes; if given, must be the uploaded object's. Default: the uploaded "
             "object's size."),
         DOCUMENT_SHA256.described(
             "SHA-256 of the bytes (hex); if given, the uploaded bytes are checked against "
             "it (as they are against one declared for the upload)."),
         DOCUMENT_DESCRIPTION, DOCUMENT_FOLDER, DOCUMENT_TAGS, DOCUMENT_KIND,
         DOCUMENT_USER_DATA.described("Any JSON object, at most 64 KiB (default {})."),),
        required=("name", "mime_type", "storage_path"),
        nullable=("size_bytes", "sha256", "description", "folder"),
        defaults={"tags": [], "type": DocumentType.OTHER}))

DOCUMENT_UPDATE = Input(
    "DocumentUpdate", "The fields to change; omitted fields stay as they are.",
    accepts(
        (DOCUMENT_NAME, DOCUMENT_DESCRIPTION.described("Free text; null clears it."),
         DOCUMENT_FOLDER.described("Absolute folder path; null takes the document out of "
                                   "folders."),
         DOCUMENT_TAGS.described("Replaces the tags."), DOCUMENT_KIND,
         DOCUMENT_USER_DATA.described("Replaces `user_data`.")),
        nullable=("description", "folder")))

ENTITY_REF = Input("EntityRef", "An entity, by type and id.", accepts(
    (Field("entity_type", ENTITY_TYPE, "The entity's type."),
     Field("entity_id", ID, "The entity's id.")),
    required=("entity_type", "entity_id")))


def _linked_to(value: Any) -> tuple[EntityType, Any]:
    if not isinstance(value, dict):
        raise v.Invalid("must be an object with entity_type and entity_id")
    try:
        return v.entity_type(value.get("entity_type")), v.identifier(value.get("entity_id"))
    except v.Invalid as exc:
        raise v.Invalid(f"entity_type and entity_id: {exc.message}") from None


DOCUMENT_FILTER = Input(
    "DocumentFilter", "Every given filter must match; omitted or null ones do not filter.",
    tuple(Accepts(field, nullable=True) for field in (
        Field("folder", FOLDER, "Documents in this folder."),
        Field("include_subfolders", BOOLEAN, "With folder: its subfolders' documents too."),
        Field("tags", TAGS, "Documents carrying all these tags."),
        Field("type", DOCUMENT_TYPE, "Documents of this type."),
        Field("status", DOCUMENT_STATUS, "Documents with this verification status."),
        Field("mime_type", MIME_TYPE_PATTERN, "A MIME type, or type/* (e.g. image/*)."),
        Field("name_contains", SEARCH, "Case-insensitive part of the name."),
        Field("scan_status", SCAN_STATUS, "Documents with this virus-scan status."),
        Field("linked_to", Kind(ENTITY_REF, validate=_linked_to),
              "Documents linked to this entity."),
        Field("created_after", TIME, "Documents recorded at or after this time."),
        Field("created_before", TIME, "Documents recorded before this time."),
    )))

DELETED_DOCUMENT = Output("DeletedDocument", "A document just deleted.", (
    _ID, Field("deleted_at", TIMESTAMP, "When it was deleted.")))

# -- links ---------------------------------------------------------------------------

LINK_ROLE = Field("role", ROLE, "Free-form relationship label, at most 64 characters, "
                                "e.g. signed.", nullable=True)
LINK_ENTITY_TYPE = Field("entity_type", ENTITY_TYPE, "The linked entity's type.")
LINK_ENTITY_ID = Field("entity_id", ID, "The linked entity's id.")

LINK = Output("Link", "A document tied to an entity, with an optional role.", (
    Field("id", ID, "The link's id."),
    Field("document_id", ID, "The linked document's id."),
    LINK_ENTITY_TYPE,
    LINK_ENTITY_ID,
    LINK_ROLE,
    Field("created_at", TIMESTAMP, "When the link was made."),
))

LINK_CREATE = Input("LinkCreate", "The entity to link the document to, and the link's role.",
                    accepts((LINK_ENTITY_TYPE, LINK_ENTITY_ID, LINK_ROLE),
                            required=("entity_type", "entity_id"), nullable=("role",)))
LINK_TARGET = Input("LinkTarget", "The entity whose link to the document is meant.",
                    accepts((LINK_ENTITY_TYPE, LINK_ENTITY_ID),
                            required=("entity_type", "entity_id")))

# -- entities ------------------------------------------------------------------------

ENTITY_ID = Field("id", ID, "The entity's id: yours (the one it has in your system) or a "
                            "new one.")
ENTITY_ATTRIBUTES = Field("attributes", JSON_OBJECT, "A JSON object, at most 64 KiB.")
ENTITY_NAME_FIELD = Field("name", ENTITY_NAME,
                          "Its name; contacts and companies always have one.", nullable=True)

ENTITY = Output("Entity", "Something documents are linked to.", (
    Field("id", ID, "The entity's id."),
    Field("entity_type", ENTITY_TYPE, "What it is: contact, company, deal, event, matter or "
                                      "task."),
    ENTITY_NAME_FIELD,
    ENTITY_ATTRIBUTES,
    Field("created_at", TIMESTAMP, "When the entity was created."),
    Field("updated_at", TIMESTAMP, "When it last changed."),
))

_NEW_ENTITY_ID = ENTITY_ID.described("The entity's id, e.g. the one it has in your system "
                                     "(default: new).")
_NEW_ENTITY_ATTRIBUTES = ENTITY_ATTRIBUTES.described("A JSON object, at most 64 KiB "
                                                     "(default {}).")
ENTITY_CREATE = Input(
    "EntityCreate", "An entity of any type; contacts and companies need a name.",
    accepts((Field("entity_type", ENTITY_TYPE, "What it is."), _NEW_ENTITY_ID,
             ENTITY_NAME_FIELD.described("Its name (required for contacts and companies)."),
             _NEW_ENTITY_ATTRIBUTES),
            required=("entity_type",), nullable=("name",)))
# A contact's or a company's: the type is the path's (REST) or the mutation's (GraphQL).
NAMED_ENTITY_CREATE = Input(
    "NamedEntityCreate", "A contact or business; id is optional (your own).",
    accepts((_NEW_ENTITY_ID, ENTITY_NAME_FIELD.described("Its name."), _NEW_ENTITY_ATTRIBUTES),
            required=("name",)))
ENTITY_UPDATE = Input(
    "EntityUpdate", "The fields to change; omitted fields stay as they are.",
    accepts((ENTITY_NAME_FIELD.described("Its name; null clears it (not for contacts and "
                                         "businesses)."),
             ENTITY_ATTRIBUTES.described("Replaces the attributes.")),
            nullable=("name",)))

# -- uploads -------------------------------------------------------------------------


def upload_file_name(value: Any) -> str:
    """A display name (1-255 characters, no control characters); never a path."""
    return v.document_name(value).strip()


def sha256_digest(value: Any) -> bytes:
    return bytes.fromhex(v.sha256(value))


def upload_size(maximum: int) -> v.Validator:
    """An upload's size: positive, and at most the largest upload accepted."""
    def validate(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise v.Invalid("must be an integer")
        if value <= 0:
            raise v.Invalid("must be positive")
        if value > maximum:
            raise v.Invalid(f"must be at most {maximum}, the largest upload accepted")
        return value

    return validate


UPLOAD_REQUEST = Input(
    "UploadRequest", "A file to upload: what a signed upload URL is made for.",
    accepts((
        Field("file_name", Kind(GraphQLType.STRING, _text(1, v.NAME_MAX),
                                validate=upload_file_name),
              "The file's name, 1-255 characters. It never becomes a path: only a short "
              "alphanumeric extension is kept in the storage path."),
        Field("mime_type", MIME_TYPE,
              "IANA media type, e.g. application/pdf; the upload must send it as "
              "Content-Type, and the document must name it."),
        Field("size_bytes", Kind(GraphQLType.SAFE_INT,
                                 {"type": "integer", "minimum": 1,
                                  "maximum": v.SAFE_INTEGER_MAX},
                                 validate=upload_size(v.SAFE_INTEGER_MAX)),
              "The exact size of the upload in bytes; counts toward the workspace's quota "
              "from now on."),
        Field("sha256", Kind(GraphQLType.STRING, _string(pattern="^[0-9a-fA-F]{64}$"),
                             validate=sha256_digest),
              "SHA-256 of the bytes (64 hex characters); the document is then checked "
              "against it."),
    ), required=("file_name", "mime_type", "size_bytes"), nullable=("sha256",)))

UPLOAD_TICKET = Output(
    "UploadTicket",
    "Where and how to upload: send `method` to `upload_url` with exactly these headers and the "
    "bytes as the body, before `expires_at`; then record the document at `storage_path`.", (
        Field("upload_url", URL, "Signed: it needs no API key."),
        Field("method", Kind(GraphQLType.STRING, output_schema={"type": "string",
                                                                 "enum": ["PUT"]}), "PUT."),
        Field("headers", Kind("HttpHeader", list_of=True, output_schema={
            "type": "object", "additionalProperties": {"type": "string"}}),
            "Content-Type (the declared MIME type) and If-None-Match: * (a URL accepts one "
            "upload): send exactly these."),
        Field("storage_path", STORAGE_PATH, "The object key docgraph chose, under the "
                                            "workspace's prefix: give it to the document."),
        Field("expires_at", TIMESTAMP, "The URL works until then."),
    ))

SIGNED_URL = Output(
    "DownloadUrl",
    "A signed URL that serves a document's bytes until `expires_at`. It needs no API key: "
    "share it only with whom may read the document.", (
        Field("url", URL, "Signed: needs no API key; serves the bytes under the document's "
                          "name."),
        Field("expires_at", TIMESTAMP, "The URL works until then."),
    ))

PREVIEW_IMAGE = Output(
    "PreviewImage",
    "A reduced copy of an image document (256 px on the long side, JPEG, or PNG when the "
    "image has transparency), and a signed URL that serves it until `expires_at`.", (
        Field("url", URL, "Signed: needs no API key."),
        Field("width", PIXELS, "Width in pixels."),
        Field("height", PIXELS, "Height in pixels."),
        Field("expires_at", TIMESTAMP, "The URL works until then."),
    ))

# -- events --------------------------------------------------------------------------

EVENT_ID = Kind(GraphQLType.ID, output_schema=_string(pattern="^evt_[0-9a-f]{32}$"))
EVENT_TYPE = Kind(GraphQLType.STRING, {"type": "string", "enum": list(EVENT_TYPES)},
                  validate=v.event_type)
ACTOR = Kind(GraphQLType.STRING, _text(1, 64), validate=v.actor)
INSTANT = Kind(GraphQLType.DATETIME, _string(format="date-time", maxLength=64),
               validate=v.instant)
EVENT_DATA = Kind(GraphQLType.JSON, {"type": "object"})

EVENT = Output(
    "ChangeEvent",
    "A change to the workspace's documents, links or entities, recorded in the transaction "
    "that made it: the audit trail, and what webhooks and subscriptions deliver.", (
        Field("id", EVENT_ID,
              "The event's id: `evt_` and 32 hex digits. Ids sort in the order events are "
              "delivered (by transaction, then within it)."),
        Field("type", EVENT_TYPE,
              "What happened: " + ", ".join(EVENT_TYPES) + "."),
        Field("occurred_at", TIMESTAMP,
              "When it happened (the database's time at the start of the change's "
              "transaction)."),
        Field("actor", Kind(GraphQLType.STRING, output_schema=_string()),
              "Who made it: the id of the API key, or `system` for background jobs."),
        Field("data", EVENT_DATA,
              "The object as the GraphQL API shows it (camelCase fields, enum values as "
              "GraphQL spells them, times in ISO 8601), under its name: `document` (with "
              "its `links`; on `document.deleted` also `deletedAt`), `link` or `entity`. "
              "Never a signed URL."),
    ))

EVENT_FILTER = Input(
    "ChangeEventFilter", "Every given filter must match; omitted or null ones do not filter.",
    tuple(Accepts(field, nullable=True) for field in (
        Field("type", EVENT_TYPE, "Events of this type."),
        Field("document_id", ID, "Events of this document (its own and its links')."),
        Field("entity_id", ID,
              "Events about this entity: its own, its links', and those of documents "
              "linked to it at the time."),
        Field("actor", ACTOR, "Events made by this API key (its id), or by `system`."),
        Field("since", INSTANT, "Events that occurred at or after this time."),
        Field("until", INSTANT, "Events that occurred before this time."),
    )))

EVENT_TYPE_LIST = Kind(GraphQLType.STRING, list_of=True, validate=v.event_types,
                       input_schema={"type": "array", "items": {"enum": list(EVENT_TYPES)},
                                     "minItems": 1, "maxItems": v.EVENT_TYPES_MAX})
EVENT_POSITION = Kind(GraphQLType.ID, _string(pattern="^evt_[0-9a-f]{32}$"),
                      validate=v.event_position)

# What a subscription to the workspace's events follows (GraphQL's subscriptions).
EVENT_STREAM = Input(
    "EventStream", "Which events a subscription delivers, and from where. Every given "
    "filter must match; omitted or null ones do not filter.",
    tuple(Accepts(field, nullable=True) for field in (
        Field("types", EVENT_TYPE_LIST, "Only events of these types."),
        Field("document_id", ID, "Only the events of this document (its own and its links')."),
        Field("entity_id", ID,
              "Only the events about this entity: its own, its links', and those of documents "
              "linked to it at the time."),
        Field("after", EVENT_POSITION,
              "Deliver the events after this one (the id of the last event received), "
              "to resume after a reconnection: every event since, within the retention "
              "period, then the new ones. Omitted: the events from now on."),
    )))
# -- webhooks ------------------------------------------------------------------------

WEBHOOK_DESCRIPTION_MAX = 1000


def _event_types(value: Any) -> list[str]:
    """Distinct event types, in the order given (an empty list: every type)."""
    return v.distinct(value, v.event_type, most=len(EVENT_TYPES), what="event types",
                      many="event types")


def _webhook_description(value: Any) -> str:
    if not isinstance(value, str):
        raise v.Invalid("must be a string")
    if len(value) > WEBHOOK_DESCRIPTION_MAX:
        raise v.Invalid(f"must be at most {WEBHOOK_DESCRIPTION_MAX} characters long")
    return v.description(value)


WEBHOOK_URL = Kind(GraphQLType.STRING,
                   _string(minLength=1, maxLength=webhook_urls.URL_MAX, format="uri",
                           pattern="^https?://"),
                   validate=webhook_urls.parse_url, output_schema=_string(format="uri"))
EVENT_TYPES_KIND = Kind(GraphQLType.STRING, list_of=True, validate=_event_types,
                        input_schema={"type": "array", "items": EVENT_TYPE.input_schema,
                                      "maxItems": len(EVENT_TYPES)})
WEBHOOK_DESCRIPTION = Kind(GraphQLType.STRING, _text(0, WEBHOOK_DESCRIPTION_MAX),
                           validate=_webhook_description)
DELIVERY_STATUS = Kind(DeliveryStatus, _enum(DeliveryStatus),
                       validate=v.choice(DeliveryStatus))
ATTEMPT_STATUS = Kind(AttemptStatus, output_schema=_enum(AttemptStatus))
HTTP_STATUS = Kind(GraphQLType.INT, {"type": "integer", "minimum": 100, "maximum": 999})
WEBHOOK_SECRET = Kind(GraphQLType.STRING,
                      output_schema=_string(pattern="^whsec_[A-Za-z0-9+/]+={0,2}$"))

_WEBHOOK_URL = Field("url", WEBHOOK_URL,
                     "Where deliveries are POSTed: an http or https URL, at most 2,048 "
                     "characters, without credentials. Its host must resolve to public "
                     "addresses only (unless DOCGRAPH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES).")
_WEBHOOK_EVENT_TYPES = Field("event_types", EVENT_TYPES_KIND,
                             "The event types it receives; empty: every type (those added "
                             "later too).")
_WEBHOOK_DESCRIPTION = Field("description", WEBHOOK_DESCRIPTION,
                             "Free text, at most 1,000 characters.", nullable=True)
_WEBHOOK_ENABLED = Field("enabled", BOOLEAN,
                         "Whether it gets deliveries. Disabled, its pending deliveries wait "
                         "(and new events are queued once it is enabled again).")

WEBHOOK_ENDPOINT = Output(
    "WebhookEndpoint",
    "A URL the workspace's events are delivered to, signed as Standard Webhooks specifies "
    "(its secret is shown only when it is created or rotated).", (
        Field("id", ID, "The endpoint's id."),
        _WEBHOOK_URL,
        _WEBHOOK_EVENT_TYPES,
        _WEBHOOK_DESCRIPTION,
        _WEBHOOK_ENABLED,
        Field("disabled_at", TIMESTAMP, "When it was disabled; set while it is.",
              nullable=True),
        Field("disabled_reason", TEXT,
              "Why it was disabled (every attempt failing for too long, a 410 Gone, or a "
              "client that disabled it); set while it is.", nullable=True),
        Field("failing_since", TIMESTAMP,
              "Since when every attempt at it has failed; null once one succeeds.",
              nullable=True),
        Field("previous_secret_expires_at", TIMESTAMP,
              "After a rotation: until when deliveries are signed with the previous secret "
              "too; null otherwise.", nullable=True),
        Field("created_at", TIMESTAMP, "When it was registered."),
        Field("updated_at", TIMESTAMP, "When it last changed."),
    ))

WEBHOOK_ENDPOINT_CREATE = Input(
    "WebhookEndpointCreate", "An endpoint to deliver the workspace's events to.",
    accepts((_WEBHOOK_URL, _WEBHOOK_EVENT_TYPES, _WEBHOOK_DESCRIPTION),
            required=("url",), nullable=("description",), defaults={"event_types": []}))
WEBHOOK_ENDPOINT_UPDATE = Input(
    "WebhookEndpointUpdate", "The fields to change; omitted fields stay as they are.",
    accepts((_WEBHOOK_URL, _WEBHOOK_EVENT_TYPES.described("Replaces the event types (empty: "
                                                          "every type)."),
             _WEBHOOK_DESCRIPTION.described("Free text; null clears it."),
             _WEBHOOK_ENABLED.described("False disables it; true enables it again (its "
                                        "failures forgotten, its waiting deliveries due "
                                        "at once).")),
            nullable=("description",)))

WEBHOOK_ATTEMPT = Output("WebhookAttempt", "One attempt at a delivery.", (
    Field("number", COUNT, "1 for the first attempt, and so on."),
    Field("status", ATTEMPT_STATUS,
          "IN_PROGRESS, SUCCEEDED (a 2xx answer), FAILED (another answer, a timeout, a "
          "refused or failed connection), or INTERRUPTED (its instance stopped before it "
          "finished; another attempt followed)."),
    Field("started_at", TIMESTAMP, "When it started."),
    Field("duration_ms", COUNT, "How long it took, in milliseconds.", nullable=True),
    Field("response_status", HTTP_STATUS, "The endpoint's HTTP status, if it answered.",
          nullable=True),
    Field("response_body", TEXT, "The first 1,024 characters of its answer's body.",
          nullable=True),
    Field("error", TEXT, "Why no answer came (a timeout, a connection refused, an address "
                         "refused), if none did.", nullable=True),
))

WEBHOOK_DELIVERY = Output(
    "WebhookDelivery",
    "One event to one endpoint: tried until an attempt succeeds, retried with backoff "
    "until DOCGRAPH_WEBHOOK_RETRY_HORIZON_SECONDS after it was queued.", (
        Field("id", ID, "The delivery's id."),
        Field("endpoint_id", ID, "The endpoint's id."),
        Field("event_id", EVENT_ID, "The event's id: the webhook-id header of every "
                                    "attempt."),
        Field("event_type", EVENT_TYPE, "The event's type."),
        Field("status", DELIVERY_STATUS,
              "PENDING (waiting for an attempt or a retry), SUCCEEDED, or FAILED (its "
              "retries ran out; it can be retried by hand)."),
        Field("attempt_count", COUNT, "How many attempts were made."),
        Field("next_attempt_at", TIMESTAMP,
              "When the next attempt may start (while pending; null while its endpoint is "
              "disabled).", nullable=True),
        Field("created_at", TIMESTAMP, "When it was queued."),
        Field("last_attempt_at", TIMESTAMP, "When the last attempt started.", nullable=True),
        Field("delivered_at", TIMESTAMP, "When an attempt succeeded.", nullable=True),
        Field("attempts", Kind("WebhookAttempt", list_of=True),
              "Every attempt, first to last."),
    ))

# -- workspaces ----------------------------------------------------------------------

WORKSPACE = Output("Workspace", "A tenant: its documents, keys and storage quota.", (
    Field("id", ID, "The workspace's id."),
    Field("name", TEXT, "Its name."),
    Field("quota_bytes", COUNT, "Bytes its documents and pending uploads may take."),
    Field("used_bytes", COUNT, "Bytes its documents take."),
    Field("text_search_config", TEXT,
          "The text search configuration (stemming, stop words) its documents and queries "
          "are read in: english unless chosen otherwise (docgraph workspace "
          "search-language)."),
    Field("created_at", TIMESTAMP, "When it was created."),
))

# -- pages ---------------------------------------------------------------------------

PAGE_SIZE = Kind(GraphQLType.INT, {"type": "integer", "minimum": 0,
                                   "maximum": MAX_PAGE_SIZE})
OFFSET = Kind(GraphQLType.INT, {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET})
