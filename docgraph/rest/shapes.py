"""The JSON of each seed, as views of the declared resources (see ``rest.views``).

Each view shows exactly the keys its seed documents, under the seed's names
and in its order; nothing else leaks out. Times are written as
``2026-04-17T09:00:00.000Z`` (``resources.timestamp``). Every view here is
also a schema of the OpenAPI document (of the operations that answer it).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from docgraph.resolvers import resources as r
from docgraph.resolvers.fields import Field, Kind
from docgraph.resolvers.records import AttachmentType, DocumentRecord, PreviewImage, SignedUrl
from docgraph.resolvers.workspaces import WorkspaceRecord
from docgraph.rest.views import Key, View, When, key

D = r.DOCUMENT.field

# -- seed 002: the document record ---------------------------------------------------

DOCUMENT_RECORD = View("Document", "Seed 002's document record.", [
    key(D("id")), key(D("name")), key(D("description")), key(D("mime_type")),
    key(D("size_bytes")), key(D("storage_path")), key(D("folder")), key(D("tags")),
    key(D("created_by")), key(D("created_at")), key(D("updated_at")),
])
# Not a seed's: what docgraph found in a document's bytes (the seeds' document shapes
# allow no field beyond their own).
DOCUMENT_FILE = View("DocumentFile", "What docgraph found in a document's bytes: their type, "
                                     "the virus scan, a PDF's pages.", [
    key(D("id")), key(D("mime_type")), key(D("detected_mime_type")), key(D("scan_status")),
    key(D("scan_signature")), key(D("scanned_at")), key(D("page_count")),
    key(Field("downloadable", r.BOOLEAN, "Whether download and preview URLs are handed out "
                                         "(else document_not_clean).")),
])
DELETED_DOCUMENT = View("DeletedDocument", r.DELETED_DOCUMENT.description,
                        [key(f) for f in r.DELETED_DOCUMENT.fields])

# -- search results: seed 002's record, with how well and where it matched ----------

SEARCH_RANK = Field("rank", Kind(r.GraphQLType.STRING, output_schema={"type": "number"}),
                    "How well it matched (higher is better).")
SEARCH_SNIPPET = Field("snippet", r.TEXT, "Where the words were found: HTML, the text escaped, "
                                          "each match in <mark>...</mark>.", nullable=True)
SEARCH_RESULT = View("SearchResult", "Seed 002's document record, with the rank and snippet "
                                     "of the match.", [
    *(key(D(k.name), path=f"node.{k.name}") for k in DOCUMENT_RECORD.keys if k.field),
    key(SEARCH_RANK), key(SEARCH_SNIPPET),
])

@dataclasses.dataclass(frozen=True, slots=True)
class DocumentText:
    """A document's text extraction: where it stands, and the text."""

    id: uuid.UUID
    text_status: str
    text_length: int | None
    text_status_reason: str | None
    text: str | None


DOCUMENT_TEXT = View("DocumentText", "The text extracted from a document's file.", [
    key(D("id")), key(D("text_status")), key(D("text_length")), key(D("text_status_reason")),
    key(Field("text", r.TEXT, "The text, once text_status is done.", nullable=True)),
])

# -- seed 001: links -----------------------------------------------------------------

LINK = View("Link", "Seed 001's link.", [
    key(r.LINK.field("id"), "link_id"),
    *(key(f) for f in r.LINK.only("document_id", "entity_type", "entity_id", "role",
                                  "created_at")),
])

# -- seed 000: a contact's documents -------------------------------------------------

CONTACT_DOCUMENT = View("ContactDocument", "Seed 000's document object: the document, with "
                                           "the role and time of its link to the contact.", [
    *(key(D(name), path=f"node.{name}")
      for name in ("id", "name", "mime_type", "size_bytes", "folder", "tags")),
    key(r.LINK_ROLE.described("The link's role."), path="role"),
    key(Field("linked_at", r.TIMESTAMP, "When the document was linked to the contact.")),
    key(D("created_at"), path="node.created_at"),
])

# -- seed 004: a business's documents ------------------------------------------------

URN_UUID = Kind(r.ID.graphql, output_schema={
    "type": "string", "pattern": "^urn:uuid:[0-9a-f-]{36}$",
    "description": "A UUID spelled urn:uuid:..., as seed 004 does."}, json=lambda u: u.urn)

BUSINESS_DOCUMENT = View(
    "BusinessDocument",
    "Seed 004's document: verified_at only on verified documents, rejection_reason only "
    "on rejected ones.", [
        key(Field("id", URN_UUID, "The document's id."), path="node.id"),
        # The link of an edge of a business's list is to the business itself.
        key(Field("business_id", URN_UUID, "The business's id."), path="link.entity_id"),
        key(D("name"), "filename", path="node.name"),
        *(key(D(name), path=f"node.{name}")
          for name in ("type", "status", "mime_type", "size_bytes", "user_data",
                       "created_at", "updated_at")),
        key(D("verified_at"), path="node.verified_at", when=When("status", "verified")),
        key(D("rejection_reason"), path="node.rejection_reason",
            when=When("status", "rejected")),
    ])

# -- entities ------------------------------------------------------------------------

ENTITY = View("Entity", r.ENTITY.description, [key(f) for f in r.ENTITY.fields])

# -- events --------------------------------------------------------------------------

EVENT = View("ChangeEvent", r.EVENT.description, [key(f) for f in r.EVENT.fields])

# -- webhooks ------------------------------------------------------------------------

WEBHOOK_ENDPOINT = View("WebhookEndpoint", r.WEBHOOK_ENDPOINT.description,
                        [key(f) for f in r.WEBHOOK_ENDPOINT.fields])
WEBHOOK_ENDPOINT_WITH_SECRET = View(
    "WebhookEndpointWithSecret",
    "An endpoint and its new signing secret, shown this once.", [
        *(key(f, path=f"endpoint.{f.name}") for f in r.WEBHOOK_ENDPOINT.fields),
        key(Field("secret", r.WEBHOOK_SECRET,
                  "The signing secret: whsec_ and the base64 of its bytes, as Standard "
                  "Webhooks libraries take it. Store it now: it is never shown again.")),
    ])
DELETED_WEBHOOK_ENDPOINT = View("DeletedWebhookEndpoint", "A webhook endpoint just deleted.", [
    key(Field("id", r.ID, "The endpoint's id.")),
    key(Field("deleted_at", r.TIMESTAMP, "When it was deleted.")),
])
WEBHOOK_ATTEMPT = View("WebhookAttempt", r.WEBHOOK_ATTEMPT.description,
                       [key(f) for f in r.WEBHOOK_ATTEMPT.fields])
WEBHOOK_DELIVERY = View("WebhookDelivery", r.WEBHOOK_DELIVERY.description, [
    *(key(f) for f in r.WEBHOOK_DELIVERY.fields if f.name != "attempts"),
    Key("attempts", view=WEBHOOK_ATTEMPT, many=True),
])

# -- seed 002's signed-upload step, and downloads ------------------------------------

UPLOAD_TICKET = View("UploadTicket", r.UPLOAD_TICKET.description,
                     [key(f) for f in r.UPLOAD_TICKET.fields])
SIGNED_URL = View("DownloadUrl", r.SIGNED_URL.description,
                  [key(f) for f in r.SIGNED_URL.fields])

# -- seed 003: a contact's attachments, Wix style ------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Media:
    """An attachment's image, preview or document: its bytes behind a signed URL."""

    id: uuid.UUID
    url: str
    expires_at: datetime
    width: int | None = None
    height: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Attachment:
    """A document as seed 003 shows it."""

    id: uuid.UUID
    name: str
    mime_type: str
    attachment_type: AttachmentType
    image: Media | None
    document: Media | None
    preview_image: Media | None

    @classmethod
    def of(cls, doc: DocumentRecord, download: SignedUrl,
           preview: PreviewImage | None) -> Attachment:
        """``image`` (and ``preview_image`` once made) for IMAGE attachments,
        ``document`` for the others. The attachment's and its media's id are the
        document's."""
        size = doc.image
        media = Media(doc.id, download.url, download.expires_at,
                      size.width if size else None, size.height if size else None)
        is_image = doc.attachment_type is AttachmentType.IMAGE
        return cls(doc.id, doc.name, doc.mime_type, doc.attachment_type,
                   image=media if is_image else None,
                   document=None if is_image else media,
                   preview_image=Media(doc.id, preview.url, preview.expires_at, preview.width,
                                       preview.height) if preview and is_image else None)


_URL, _EXPIRES = r.SIGNED_URL.only("url", "expires_at")
_WIDTH, _HEIGHT = r.PREVIEW_IMAGE.only("width", "height")
_MEDIA_ID = Field("id", r.ID, "The document's id.")
IS_IMAGE = When("attachmentType", "IMAGE")
IS_NOT_IMAGE = When("attachmentType", "IMAGE", equal=False)

ATTACHMENT_IMAGE = View("AttachmentImage", "An image attachment's bytes; height and width "
                                           "once the image is measured.", [
    key(_MEDIA_ID), key(_URL), key(_EXPIRES, "urlExpirationDate"),
    key(_HEIGHT, omit_none=True), key(_WIDTH, omit_none=True),
])
ATTACHMENT_PREVIEW = View("AttachmentPreview", r.PREVIEW_IMAGE.description, [
    key(_MEDIA_ID), key(_URL), key(_HEIGHT), key(_WIDTH), key(_EXPIRES, "urlExpirationDate"),
])
ATTACHMENT_DOCUMENT = View("AttachmentDocument", "A document attachment's bytes.", [
    key(_MEDIA_ID), key(_URL), key(_EXPIRES, "urlExpirationDate"),
])
ATTACHMENT = View(
    "Attachment",
    "Seed 003's attachment: image (and previewImage once made) for IMAGE, document for "
    "OTHER and UNKNOWN.", [
        key(D("id")), key(D("name"), "fileName"), key(D("mime_type"), "mimeType"),
        key(D("attachment_type"), "attachmentType"),
        Key("image", view=ATTACHMENT_IMAGE, when=IS_IMAGE),
        Key("document", view=ATTACHMENT_DOCUMENT, when=IS_NOT_IMAGE),
        Key("previewImage", path="preview_image", view=ATTACHMENT_PREVIEW, when=IS_IMAGE,
            omit_none=True),
    ])

# -- workspaces ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class CallerWorkspace:
    """The caller's workspace, and the key it called with."""

    workspace: WorkspaceRecord
    key_id: uuid.UUID
    scopes: list[str]


API_KEY = View("ApiKey", "The key the request was made with.", [
    key(Field("id", r.ID, "The key's id."), path="key_id"),
    key(Field("scopes", r.SCOPES, "What the key may do: read:documents, write:documents, "
                                  "manage:webhooks.")),
])
WORKSPACE = View("Workspace", r.WORKSPACE.description, [
    *(key(f, path=f"workspace.{f.name}") for f in r.WORKSPACE.fields),
    Key("key", path="", view=API_KEY),
])

# -- envelopes -----------------------------------------------------------------------


def data(view: View) -> View:
    """``{"data": object}``."""
    return View(f"{view.name}Response", None, [Key("data", view=view)], mapping=True)


PAGE_NUMBER = Field("page", Kind(r.GraphQLType.INT, {"type": "integer", "minimum": 1}),
                    "The page's number, from 1.")
TOTAL = Field("total", r.COUNT, "How many there are in all.")

CONTACT_DOCUMENT_LIST = View("ContactDocumentList", "Seed 000's envelope.", [
    Key("data", view=View("ContactDocuments", None, [
        Key("documents", view=CONTACT_DOCUMENT, many=True)], mapping=True)),
    Key("meta", view=View("ContactDocumentsMeta", None, [
        key(PAGE_NUMBER),
        key(Field("per_page", r.PAGE_SIZE, "Documents per page, at most 100.")),
        key(TOTAL)], mapping=True)),
], mapping=True)

BUSINESS_DOCUMENT_LIST = View("BusinessDocumentList", "Seed 004's envelope.", [
    Key("documents", view=BUSINESS_DOCUMENT, many=True),
    key(Field("total_count", r.COUNT, "How many documents the list has.")),
    key(Field("limit", r.PAGE_SIZE, "Documents asked for, at most 100.")),
    key(Field("offset", r.COUNT, "Documents skipped.")),
], mapping=True)

ATTACHMENT_LIST = View("AttachmentList", "Seed 003's ListAttachmentsResponse.", [
    Key("attachments", view=ATTACHMENT, many=True),
    Key("metadata", view=View("AttachmentListMetadata", None, [
        key(Field("count", r.COUNT, "Attachments on this page.")),
        key(Field("offset", r.COUNT, "Attachments skipped.")),
        key(TOTAL),
        key(Field("tooManyToCount", r.BOOLEAN, "Always false: the total is exact.")),
    ], mapping=True)),
], mapping=True)

SEARCH_RESULT_LIST = View("SearchResultList", "Seed 000's envelope, around search results.", [
    Key("data", view=View("SearchResults", None, [
        Key("documents", view=SEARCH_RESULT, many=True)], mapping=True)),
    Key("meta", view=View("SearchResultsMeta", None, [
        key(PAGE_NUMBER),
        key(Field("per_page", r.PAGE_SIZE, "Results per page, at most 100.")),
        key(Field("total", r.COUNT, "How many documents match the query and filters."))],
        mapping=True)),
], mapping=True)

# Seed 000's {data, meta} envelope, paged by cursor (the audit trail grows at the top).
EVENT_LIST = View("ChangeEventList", "A page of the audit trail, newest first.", [
    Key("data", view=View("ChangeEvents", None, [
        Key("events", view=EVENT, many=True)], mapping=True)),
    Key("meta", view=View("ChangeEventsMeta", None, [
        key(Field("per_page", r.PAGE_SIZE, "Events per page, at most 100.")),
        key(Field("has_more", r.BOOLEAN, "Whether older events follow this page.")),
        key(Field("next_cursor", Kind(r.GraphQLType.STRING, output_schema={"type": "string"}),
                  "Pass it as `after` for the next page; null on the last page.",
                  nullable=True)),
    ], mapping=True)),
], mapping=True)

WEBHOOK_ENDPOINT_LIST = View("WebhookEndpointListResponse", None, [
    Key("data", view=View("WebhookEndpointList", None, [
        Key("webhooks", view=WEBHOOK_ENDPOINT, many=True)], mapping=True))], mapping=True)
WEBHOOK_DELIVERY_LIST = View("WebhookDeliveryList", "A page of an endpoint's deliveries, "
                                                    "newest first.", [
    Key("data", view=View("WebhookDeliveries", None, [
        Key("deliveries", view=WEBHOOK_DELIVERY, many=True)], mapping=True)),
    Key("meta", view=View("WebhookDeliveriesMeta", None, [
        key(Field("per_page", r.PAGE_SIZE, "Deliveries per page, at most 100.")),
        key(Field("has_more", r.BOOLEAN, "Whether older deliveries follow this page.")),
        key(Field("next_cursor", Kind(r.GraphQLType.STRING, output_schema={"type": "string"}),
                  "Pass it as `after` for the next page; null on the last page.",
                  nullable=True)),
    ], mapping=True)),
], mapping=True)

LINK_LIST = View("LinkListResponse", None, [Key("data", view=View("LinkList", None, [
    Key("links", view=LINK, many=True)], mapping=True))], mapping=True)

DOCUMENT_RESPONSE = data(DOCUMENT_RECORD)
DOCUMENT_FILE_RESPONSE = data(DOCUMENT_FILE)
DELETED_DOCUMENT_RESPONSE = data(DELETED_DOCUMENT)
LINK_RESPONSE = data(LINK)
ENTITY_RESPONSE = data(ENTITY)
UPLOAD_TICKET_RESPONSE = data(UPLOAD_TICKET)
SIGNED_URL_RESPONSE = data(SIGNED_URL)
WORKSPACE_RESPONSE = data(WORKSPACE)
DOCUMENT_TEXT_RESPONSE = data(DOCUMENT_TEXT)
WEBHOOK_ENDPOINT_RESPONSE = data(WEBHOOK_ENDPOINT)
WEBHOOK_ENDPOINT_WITH_SECRET_RESPONSE = data(WEBHOOK_ENDPOINT_WITH_SECRET)
DELETED_WEBHOOK_ENDPOINT_RESPONSE = data(DELETED_WEBHOOK_ENDPOINT)
WEBHOOK_DELIVERY_RESPONSE = data(WEBHOOK_DELIVERY)

def respond(view: View, **parts: Any) -> dict[str, Any]:
    """The envelope ``view`` around its ``parts``."""
    return view.dump(parts)
