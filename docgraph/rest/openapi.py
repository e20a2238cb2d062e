"""The OpenAPI 3.1 document of the REST shim, served at ``GET /v1/openapi.json``.

Made from the operations' declarations (``rest.operations``): their paths,
parameters and bodies (the declared inputs), and their responses (the
views of ``rest.shapes``, whose schemas come from the same declarations as
the JSON they write). Response schemas are strict (``additionalProperties:
false``, exact ``required`` lists), so the fuzz tests' conformance checks
prove the seeds' field sets.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from docgraph import errors
from docgraph.resolvers.fields import Schema, closed_object
from docgraph.rest.operations import Operation, Param


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_codes() -> list[str]:
    codes: set[str] = set()
    pending: list[type[errors.AppError]] = [errors.AppError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(codes)


ERROR: Schema = closed_object({"error": closed_object({
    "code": {"type": "string", "enum": _error_codes()},
    "message": {"type": "string"},
    "details": {"description": "What went wrong in detail, e.g. "
                               "{\"fields\": {\"name\": \"is required\"}}; or null."},
    "request_id": {"type": "string", "description": "The X-Request-ID of the response."},
})}, description="Every error: a stable code, a message, details, the request id.")

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
    "X-RateLimit-Remaining": _count_header("Requests left in the window, as the answering "
                                           "instance counts them; never below 0, never "
                                           "rising until the window resets."),
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
    409: "storage_conflict, conflict (e.g. an entity id already taken, a webhook delivery "
         "whose endpoint is disabled), or idempotency_in_progress (with Retry-After).",
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


# Every operation that needs a key can answer these.
AUTHENTICATED_ERRORS = (400, 401, 404, 429, 503)


def _parameter(param: Param) -> Schema:
    return {"name": param.name, "in": param.where, "required": param.required,
            "description": param.description, "schema": param.schema}


def _responses(operation: Operation) -> Schema:
    responses: Schema = {}
    for status, (description, view) in operation.responses.items():
        schema = ref(view.name) if view is not None else {"type": "object"}
        responses[str(status)] = {"description": description, "headers": HEADERS,
                                  "content": {"application/json": {"schema": schema}}}
    statuses = {429} if operation.public else {*AUTHENTICATED_ERRORS, *operation.errors}
    # What the layers in front of every route add: a body limit (413) wherever a body
    # is read, and Idempotency-Key (409 while running, 422 when reused) on every POST.
    if operation.body is not None:
        statuses.add(413)
    if operation.method == "POST":
        statuses |= {409, 422}
    for status in statuses:
        responses.setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
    return dict(sorted(responses.items()))


def _operation(operation: Operation) -> Schema:
    described: Schema = {"operationId": operation.operation_id, "summary": operation.summary,
                         "tags": [operation.tag], "responses": _responses(operation)}
    if operation.description:
        described["description"] = operation.description
    parameters = [_parameter(p) for p in operation.params]
    if operation.method == "POST":
        parameters.append(IDEMPOTENCY_KEY)
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": ref(operation.body.name)}}}
    if operation.public:
        described["security"] = []
    return described


def _schemas(operations: Sequence[Operation]) -> dict[str, Schema]:
    schemas: dict[str, Schema] = {"Error": ERROR}
    for operation in operations:
        for _, view in operation.responses.values():
            if view is not None:
                schemas.update(view.schemas())
        if operation.body is not None:
            schemas[operation.body.name] = operation.body.json_schema()
    return schemas


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
def document(operations: tuple[Operation, ...]) -> Schema:
    """The OpenAPI document of ``operations``."""
    paths: dict[str, Schema] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
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
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "bearerFormat": "wbk_ followed by 43 characters",
                "description": "A workspace API key with read:documents, "
                               "write:documents and/or manage:webhooks."}},
            "schemas": _schemas(operations),
            "responses": _error_responses(),
        },
    }
