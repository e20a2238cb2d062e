"""The OpenAPI 3.1 document of the REST shim, served at ``GET /v1/openapi.json``.

Written by hand next to the routes (``tests/test_rest_openapi.py`` checks
that both list the same paths and methods), with response schemas strict
enough (``additionalProperties: false``, exact ``required`` lists) that
the fuzz tests' conformance checks prove the seeds' field sets.
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from docgraph import errors
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import validation as v
from docgraph.resolvers.pagination import MAX_OFFSET, MAX_PAGE_SIZE
from docgraph.resolvers.records import DocumentStatus, DocumentType, EntityType

Schema = dict[str, Any]

TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], *, required: list[str] | None = None,
        description: str | None = None, **extra: Any) -> Schema:
    """An object with exactly these properties (all required unless told otherwise)."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    schema.update(extra)
    return schema


def nullable(schema: Schema) -> Schema:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def string(description: str | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def integer(description: str | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "integer", **extra}
    if description:
        schema["description"] = description
    return schema


TIMESTAMP: Schema = {"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN,
                     "description": "ISO 8601, UTC, milliseconds, e.g. 2026-04-17T09:00:00.000Z"}
UUID: Schema = {"type": "string", "format": "uuid"}
URN_UUID: Schema = {"type": "string", "pattern": "^urn:uuid:[0-9a-f-]{36}$",
                    "description": "A UUID spelled urn:uuid:..., as seed 004 does."}
SIZE: Schema = {"type": "integer", "minimum": 0, "maximum": v.SAFE_INTEGER_MAX}
TAGS: Schema = {"type": "array", "items": {"type": "string", "minLength": 1,
                                           "maxLength": v.TAG_MAX},
                "maxItems": v.TAGS_MAX}
FOLDER: Schema = string("An absolute folder path, e.g. /clients/acme/ndas; created on demand.",
                        minLength=1, maxLength=v.PATH_MAX)
USER_DATA: Schema = {"type": "object", "description": "Free JSON (at most 64 KiB)."}
ROLE: Schema = string("Free-form relationship label, e.g. signed.", minLength=1,
                      maxLength=v.ROLE_MAX)
ENTITY_TYPE: Schema = {"type": "string", "enum": [t.value for t in EntityType]}
DOCUMENT_TYPE: Schema = {"type": "string", "enum": [t.value for t in DocumentType]}
DOCUMENT_STATUS: Schema = {"type": "string", "enum": [s.value for s in DocumentStatus]}
ID_INPUT: Schema = string("A UUID, also spelled urn:uuid:...", minLength=1, maxLength=64)


def _error_codes() -> list[str]:
    codes: set[str] = set()
    pending: list[type[errors.AppError]] = [errors.AppError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(codes)


def _only_when(status: str, field: str) -> Schema:
    return {"if": {"properties": {"status": {"const": status}}},
            "then": {"required": [field]},
            "else": {"not": {"required": [field]}}}


SCHEMAS: dict[str, Schema] = {
    "Error": obj({"error": obj({
        "code": {"type": "string", "enum": _error_codes()},
        "message": string(),
        "details": {"description": "What went wrong in detail, e.g. "
                                   "{\"fields\": {\"name\": \"is required\"}}; or null."},
        "request_id": string("The X-Request-ID of the response."),
    })}, description="Every error: a stable code, a message, details, the request id."),
    # Seed 002: the document record.
    "Document": obj({
        "id": UUID,
        "name": string(minLength=1, maxLength=v.NAME_MAX),
        "description": nullable(string()),
        "mime_type": string(),
        "size_bytes": SIZE,
        "storage_path": string(),
        "folder": nullable(string()),
        "tags": {"type": "array", "items": string()},
        "created_by": nullable(string("The API key that recorded the document.")),
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    }, description="Seed 002's document record."),
    "DocumentResponse": obj({"data": ref("Document")}),
    "DocumentCreate": obj({
        "name": string("Display name, 1-255 characters.", minLength=1, maxLength=v.NAME_MAX),
        "mime_type": string("IANA media type, e.g. application/pdf.", minLength=3,
                            maxLength=v.MIME_TYPE_MAX),
        "storage_path": string("Object key where the uploaded bytes live.", minLength=1,
                               maxLength=v.PATH_MAX),
        "size_bytes": SIZE,
        "description": nullable(string(maxLength=v.DESCRIPTION_MAX)),
        "folder": nullable(FOLDER),
        "tags": TAGS,
        "type": DOCUMENT_TYPE,
        "user_data": USER_DATA,
    }, required=["name", "mime_type", "storage_path"]),
    "DocumentUpdate": obj({
        "name": string(minLength=1, maxLength=v.NAME_MAX),
        "description": nullable(string(maxLength=v.DESCRIPTION_MAX)),
        "folder": nullable(FOLDER),
        "tags": TAGS,
        "type": DOCUMENT_TYPE,
        "user_data": USER_DATA,
    }, required=[], description="The fields to change; null clears description or folder."),
    "DeletedDocumentResponse": obj({"data": obj({"id": UUID, "deleted_at": TIMESTAMP})}),
    # Seed 001: links.
    "Link": obj({
        "link_id": UUID,
        "document_id": UUID,
        "entity_type": ENTITY_TYPE,
        "entity_id": UUID,
        "role": nullable(string()),
        "created_at": TIMESTAMP,
    }, description="Seed 001's link."),
    "LinkResponse": obj({"data": ref("Link")}),
    "LinkListResponse": obj({"data": obj({"links": {"type": "array",
                                                    "items": ref("Link")}})}),
    "LinkCreate": obj({
        "entity_type": ENTITY_TYPE,
        "entity_id": ID_INPUT,
        "role": nullable(ROLE),
    }, required=["entity_type", "entity_id"]),
    # Seed 000: a contact's documents.
    "ContactDocument": obj({
        "id": UUID,
        "name": string(),
        "mime_type": string(),
        "size_bytes": SIZE,
        "folder": nullable(string()),
        "tags": {"type": "array", "items": string()},
        "role": nullable(string("The link's role.")),
        "linked_at": TIMESTAMP,
        "created_at": TIMESTAMP,
    }, description="Seed 000's document object."),
    "ContactDocumentList": obj({
        "data": obj({"documents": {"type": "array", "items": ref("ContactDocument")}}),
        "meta": obj({"page": integer(minimum=1), "per_page": integer(minimum=0,
                                                                       maximum=MAX_PAGE_SIZE),
                     "total": integer(minimum=0)}),
    }, description="Seed 000's envelope."),
    # Seed 004: a business's documents.
    "BusinessDocument": obj({
        "id": URN_UUID,
        "business_id": URN_UUID,
        "filename": string(),
        "type": DOCUMENT_TYPE,
        "status": DOCUMENT_STATUS,
        "mime_type": string(),
        "size_bytes": SIZE,
        "user_data": {"type": "object"},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "verified_at": TIMESTAMP,
        "rejection_reason": string(),
    }, required=["id", "business_id", "filename", "type", "status", "mime_type", "size_bytes",
                 "user_data", "created_at", "updated_at"],
        description="Seed 004's document: verified_at only on verified documents, "
                    "rejection_reason only on rejected ones.",
        allOf=[_only_when("verified", "verified_at"),
               _only_when("rejected", "rejection_reason")]),
    "BusinessDocumentList": obj({
        "documents": {"type": "array", "items": ref("BusinessDocument")},
        "total_count": integer(minimum=0),
        "limit": integer(minimum=0, maximum=MAX_PAGE_SIZE),
        "offset": integer(minimum=0),
    }, description="Seed 004's envelope."),
    # Entities.
    "Entity": obj({
        "id": UUID,
        "entity_type": ENTITY_TYPE,
        "name": nullable(string()),
        "attributes": {"type": "object"},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    }),
    "EntityResponse": obj({"data": ref("Entity")}),
    "NamedEntityCreate": obj({
        "id": ID_INPUT,
        "name": string(minLength=1, maxLength=v.NAME_MAX),
        "attributes": {"type": "object"},
    }, required=["name"], description="A contact or business; id is optional (your own)."),
    "EntityCreate": obj({
        "entity_type": ENTITY_TYPE,
        "id": ID_INPUT,
        "name": nullable(string(minLength=1, maxLength=v.NAME_MAX)),
        "attributes": {"type": "object"},
    }, required=["entity_type"], description="Any entity; contacts and companies need a name."),
    "EntityUpdate": obj({
        "name": nullable(string(minLength=1, maxLength=v.NAME_MAX)),
        "attributes": {"type": "object"},
    }, required=[]),
    # Seed 002's signed-upload step, and downloads.
    "UploadRequest": obj({
        "file_name": string("The file's name (lends the object key a safe extension).",
                            minLength=1, maxLength=v.NAME_MAX),
        "mime_type": string("IANA media type; the PUT must send it as Content-Type.",
                            minLength=3, maxLength=v.MIME_TYPE_MAX),
        "size_bytes": integer("The exact size of the PUT's body.", minimum=1),
        "sha256": nullable(string("The bytes' SHA-256 in hex; checked when the document is "
                                  "recorded.", pattern="^[0-9a-fA-F]{64}$")),
    }, required=["file_name", "mime_type", "size_bytes"]),
    "UploadTicketResponse": obj({"data": obj({
        "upload_url": string("Signed: needs no API key.", format="uri"),
        "method": {"type": "string", "enum": ["PUT"]},
        "headers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "Send exactly these headers with the PUT."},
        "storage_path": string("Give it to POST /v1/documents once the bytes are up."),
        "expires_at": TIMESTAMP,
    })}),
    "DownloadUrlResponse": obj({"data": obj({
        "url": string("Signed: needs no API key; serves the bytes under the document's "
                      "name.", format="uri"),
        "expires_at": TIMESTAMP,
    })}),
    # Seed 003: a contact's attachments, Wix style.
    "AttachmentImage": obj({
        "id": UUID,
        "url": string(format="uri"),
        "height": integer(minimum=1),
        "width": integer(minimum=1),
        "urlExpirationDate": TIMESTAMP,
    }, required=["id", "url", "urlExpirationDate"],
        description="height and width once the image is measured."),
    "AttachmentDocument": obj({
        "id": UUID,
        "url": string(format="uri"),
        "urlExpirationDate": TIMESTAMP,
    }),
    "Attachment": obj({
        "id": UUID,
        "fileName": string(),
        "mimeType": string(),
        "attachmentType": {"type": "string", "enum": ["IMAGE", "OTHER", "UNKNOWN"]},
        "image": ref("AttachmentImage"),
        "document": ref("AttachmentDocument"),
        "previewImage": ref("AttachmentImage"),
    }, required=["id", "fileName", "mimeType", "attachmentType"],
        description="Seed 003's attachment: image (and previewImage once made) for IMAGE, "
                    "document for OTHER and UNKNOWN.",
        allOf=[{"if": {"properties": {"attachmentType": {"const": "IMAGE"}}},
                "then": {"required": ["image"], "not": {"required": ["document"]}},
                "else": {"required": ["document"],
                         "not": {"anyOf": [{"required": ["image"]},
                                           {"required": ["previewImage"]}]}}}]),
    "AttachmentList": obj({
        "attachments": {"type": "array", "items": ref("Attachment")},
        "metadata": obj({"count": integer(minimum=0), "offset": integer(minimum=0),
                         "total": integer(minimum=0), "tooManyToCount": {"type": "boolean"}}),
    }, description="Seed 003's ListAttachmentsResponse."),
    "AttachmentListRequest": obj({
        "contactId": ID_INPUT,
        "paging": obj({"limit": integer(minimum=0, maximum=MAX_PAGE_SIZE),
                       "offset": integer(minimum=0, maximum=MAX_OFFSET)}, required=[]),
    }, required=["contactId"]),
    "WorkspaceResponse": obj({"data": obj({
        "id": UUID,
        "name": string(),
        "quota_bytes": integer(minimum=0),
        "used_bytes": integer(minimum=0),
        "created_at": {"type": "string", "format": "date-time"},
        "key": obj({"id": UUID, "scopes": {"type": "array", "items": string()}}),
    })}),
}

REQUEST_ID_HEADER: Schema = {
    "description": "The request's id (an incoming sane X-Request-ID is echoed).",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}


def _count_header(description: str) -> Schema:
    return {"description": description, "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"}}


RATE_LIMIT_HEADERS: dict[str, Schema] = {
    "X-RateLimit-Limit": _count_header("Requests the key (or, without a valid key, the "
                                       "client address) may make in the window."),
    "X-RateLimit-Remaining": _count_header("Requests left in the window; never below 0, "
                                           "never rising until the window resets."),
    "X-RateLimit-Reset": _count_header("Seconds until the window resets."),
}
HEADERS: dict[str, Schema] = {"X-Request-ID": REQUEST_ID_HEADER, **RATE_LIMIT_HEADERS}
RETRY_AFTER: Schema = _count_header("Seconds to wait before retrying.")

ERROR_DESCRIPTIONS = {
    400: "validation_error: a bad or missing field, query parameter or id; malformed JSON; "
         "a malformed Idempotency-Key.",
    401: "invalid_key: missing, malformed, unknown or revoked key.",
    403: "insufficient_permissions: the key lacks the scope.",
    404: "not_found: no such thing in this workspace, or no such path.",
    409: "storage_conflict, conflict (e.g. an entity id already taken), or "
         "idempotency_in_progress (with Retry-After).",
    413: "payload_too_large: the body is over DOCGRAPH_MAX_BODY_BYTES; quota_exceeded: an "
         "upload would pass the workspace's quota.",
    422: "idempotency_key_reused: the Idempotency-Key was used with a different request.",
    429: "rate_limited: over the key's (or address's) limit; retry after Retry-After.",
    503: "unavailable: the database is unreachable; retry after Retry-After. (Nothing could "
         "be counted, so no X-RateLimit-* headers.)",
}
IDEMPOTENCY_KEY: Schema = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Retry deduplication for 24 hours: a retry of the same request gets the "
                   "first response again (with Idempotent-Replayed: true).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
               "pattern": "^[\\x21-\\x7e]+$"},
}


def _responses(ok: dict[int, tuple[str, str]], *errors_: int) -> Schema:
    responses: Schema = {}
    for status, (description, schema) in ok.items():
        responses[str(status)] = {
            "description": description, "headers": HEADERS,
            "content": {"application/json": {"schema": ref(schema)}},
        }
    return _with_errors(responses, 400, 401, 404, 429, 503, *errors_)


def _with_errors(responses: Schema, *statuses: int) -> Schema:
    for status in sorted(statuses):
        responses.setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
    return dict(sorted(responses.items()))


def _parameter(name: str, where: str, schema: Schema, description: str, *,
               required: bool = False) -> Schema:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


def _id(description: str) -> Schema:
    return _parameter("id", "path", ID_INPUT, description)


def _body(schema: str) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


def _operation(summary: str, responses: Schema, *, parameters: list[Schema] | None = None,
               body: str | None = None, tags: list[str], security: bool = True,
               description: str | None = None, operation_id: str) -> Schema:
    op: Schema = {"operationId": operation_id, "summary": summary, "tags": tags,
                  "responses": responses}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = _body(body)
    if not security:
        op["security"] = []
    return op


def _entity_paths(collection: str, kind: str, tag: str, create_schema: str) -> dict[str, Schema]:
    ident = _id(f"The {kind}'s id.")
    return {
        f"/v1/{collection}": {"post": _operation(
            f"Create a {kind}", _responses({201: (f"The {kind}.", "EntityResponse")}, 403, 409),
            body=create_schema, tags=[tag], operation_id=f"create_{kind}")},
        f"/v1/{collection}/{{id}}": {
            "get": _operation(f"Get a {kind}", _responses({200: (f"The {kind}.",
                                                                 "EntityResponse")}, 403),
                              parameters=[ident], tags=[tag], operation_id=f"get_{kind}"),
            "patch": _operation(f"Change a {kind}",
                                _responses({200: (f"The {kind}.", "EntityResponse")}, 403),
                                parameters=[ident], body="EntityUpdate", tags=[tag],
                                operation_id=f"update_{kind}"),
        },
    }


def _paths() -> dict[str, Schema]:
    doc_id = _id("The document's id.")
    document = {200: ("The document.", "DocumentResponse")}
    return {
        "/v1/openapi.json": {"get": _operation(
            "This document", _with_errors({"200": {
                "description": "The OpenAPI document.", "headers": HEADERS,
                "content": {"application/json": {"schema": {"type": "object"}}}}}, 429),
            tags=["meta"], security=False, operation_id="openapi")},
        "/v1/workspace": {"get": _operation(
            "The caller's workspace and key",
            _responses({200: ("The workspace.", "WorkspaceResponse")}, 403),
            tags=["meta"], operation_id="get_workspace")},
        "/v1/documents": {"post": _operation(
            "Create a document record (seed 002)",
            _responses({201: ("The document record.", "DocumentResponse")}, 403, 409),
            body="DocumentCreate", tags=["documents"], operation_id="create_document",
            description="Records a document whose bytes are already uploaded at "
                        "storage_path. A live document at the same storage_path: 409 "
                        "storage_conflict.")},
        "/v1/documents/{id}": {
            "get": _operation("Get a document (seed 002's record)",
                              _responses(document, 403), parameters=[doc_id],
                              tags=["documents"], operation_id="get_document"),
            "patch": _operation("Change a document's metadata", _responses(document, 403),
                                parameters=[doc_id], body="DocumentUpdate",
                                tags=["documents"], operation_id="update_document"),
            "delete": _operation(
                "Delete a document", _responses(
                    {200: ("The deleted document.", "DeletedDocumentResponse")}, 403),
                parameters=[doc_id], tags=["documents"], operation_id="delete_document",
                description="From now on the document is absent from every read and list."),
        },
        "/v1/documents/{id}/link": {
            "post": _operation(
                "Link a document to an entity (seed 001)",
                _responses({201: ("The new link.", "LinkResponse"),
                            200: ("The link that already existed, unchanged.",
                                  "LinkResponse")}, 403),
                parameters=[doc_id], body="LinkCreate", tags=["links"],
                operation_id="link_document"),
            "delete": _operation(
                "Remove the link between a document and an entity",
                _responses({200: ("The removed link.", "LinkResponse")}, 403),
                parameters=[doc_id,
                            _parameter("entity_type", "query", ENTITY_TYPE,
                                       "The linked entity's type.", required=True),
                            _parameter("entity_id", "query", ID_INPUT,
                                       "The linked entity's id.", required=True)],
                tags=["links"], operation_id="unlink_document"),
        },
        "/v1/documents/{id}/links": {"get": _operation(
            "A document's links, oldest first",
            _responses({200: ("The links.", "LinkListResponse")}, 403),
            parameters=[doc_id], tags=["links"], operation_id="document_links")},
        "/v1/documents/upload-url": {"post": _operation(
            "Get a signed URL to upload a file's bytes to (seed 002's signed-upload step)",
            _responses({201: ("Where and how to PUT the bytes.", "UploadTicketResponse")},
                       403),
            body="UploadRequest", tags=["documents"], operation_id="request_upload_url",
            description="The size counts toward the workspace's quota from now on (413 "
                        "quota_exceeded beyond it); 503 while object storage is down.")},
        "/v1/documents/{id}/download-url": {"get": _operation(
            "Get a signed URL that serves a document's bytes",
            _responses({200: ("The URL.", "DownloadUrlResponse")}, 403),
            parameters=[doc_id, _parameter(
                "expires_in", "query", integer(minimum=1),
                "Lifetime in seconds (default DOCGRAPH_DOWNLOAD_URL_SECONDS, at most "
                "DOCGRAPH_DOWNLOAD_URL_MAX_SECONDS).")],
            tags=["documents"], operation_id="document_download_url")},
        "/contacts/v4/attachments/{contactId}": {"get": _operation(
            "List a contact's attachments (seed 003)",
            _responses({200: ("One page of the contact's attachments, newest first.",
                              "AttachmentList")}, 403),
            parameters=[
                _parameter("contactId", "path", ID_INPUT, "The contact's id."),
                _parameter("paging.limit", "query",
                           integer(minimum=0, maximum=MAX_PAGE_SIZE, default=100),
                           "Attachments to return, at most 100."),
                _parameter("paging.offset", "query",
                           integer(minimum=0, maximum=MAX_OFFSET, default=0),
                           "Attachments to skip."),
            ], tags=["contacts"], operation_id="list_contact_attachments")},
        "/contacts/v4/attachments": {"get": _operation(
            "List a contact's attachments, contactId in the body (seed 003's example)",
            _responses({200: ("One page of the contact's attachments, newest first.",
                              "AttachmentList")}, 403),
            body="AttachmentListRequest", tags=["contacts"],
            operation_id="list_contact_attachments_by_body")},
        **_entity_paths("contacts", "contact", "contacts", "NamedEntityCreate"),
        "/v1/contacts/{id}/documents": {"get": _operation(
            "List a contact's documents (seed 000)",
            _responses({200: ("One page of the contact's documents, newest first.",
                              "ContactDocumentList")}, 403),
            parameters=[
                _id("The contact's id."),
                _parameter("page", "query", integer(minimum=1, default=1), "Page number."),
                _parameter("per_page", "query",
                           integer(minimum=0, maximum=MAX_PAGE_SIZE, default=25),
                           "Results per page, at most 100."),
                _parameter("role", "query", ROLE,
                           "Only documents linked with this role (e.g. signed)."),
            ], tags=["contacts"], operation_id="list_contact_documents")},
        **_entity_paths("businesses", "business", "businesses", "NamedEntityCreate"),
        "/v1/businesses/{id}/documents": {"get": _operation(
            "List a business's documents (seed 004)",
            _responses({200: ("One page of the business's documents, newest first.",
                              "BusinessDocumentList")}, 403),
            parameters=[
                _id("The business's id (a UUID, also spelled urn:uuid:...)."),
                _parameter("limit", "query",
                           integer(minimum=0, maximum=MAX_PAGE_SIZE, default=50),
                           "Documents to return, at most 100."),
                _parameter("offset", "query", integer(minimum=0, maximum=MAX_OFFSET,
                                                      default=0),
                           "Documents to skip."),
                _parameter("type", "query", DOCUMENT_TYPE, "Only documents of this type."),
                _parameter("status", "query", DOCUMENT_STATUS,
                           "Only documents with this verification status."),
            ], tags=["businesses"], operation_id="list_business_documents")},
        **_entity_paths("entities", "entity", "entities", "EntityCreate"),
    }


def _with_middleware(paths: dict[str, Schema]) -> dict[str, Schema]:
    """What the layers in front of every route add: a body limit (413) wherever a body
    is read, and Idempotency-Key (409 while running, 422 when reused) on every POST."""
    for item in paths.values():
        for method, op in item.items():
            if "requestBody" in op:
                op["responses"] = _with_errors(op["responses"], 413)
            if method == "post":
                op["parameters"] = [*op.get("parameters", []), IDEMPOTENCY_KEY]
                op["responses"] = _with_errors(op["responses"], 409, 422)
    return paths


def _error_responses() -> Schema:
    responses: Schema = {}
    for status, description in ERROR_DESCRIPTIONS.items():
        headers = dict(HEADERS)
        if status in (429, 503):
            headers["Retry-After"] = RETRY_AFTER
        if status == 503:
            headers = {"X-Request-ID": REQUEST_ID_HEADER, "Retry-After": RETRY_AFTER}
        responses[f"Error{status}"] = {
            "description": description, "headers": headers,
            "content": {"application/json": {"schema": ref("Error")}},
        }
    return responses


@functools.cache
def document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "docgraph REST API",
            "version": "1",
            "description": "The REST compatibility shim: the documented /v1 paths (and the "
                           "Wix-style contact attachments), with their fields and "
                           "envelopes. Authenticate with Authorization: Bearer wbk_...",
        },
        "security": [{"bearerAuth": []}],
        "paths": _with_middleware(_paths()),
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "bearerFormat": "wbk_ followed by 43 characters",
                "description": "A workspace API key with read:documents and/or "
                               "write:documents."}},
            "schemas": SCHEMAS,
            "responses": _error_responses(),
        },
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document())
