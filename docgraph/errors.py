"""One error tree: every expected failure is an :class:`AppError`.

Each subclass carries a stable ``code`` and an HTTP ``status``. REST renders
it as ``{"error": {"code", "message", "details", "request_id"}}``; GraphQL as
``errors[].extensions.code``. Anything else is unexpected: masked and logged.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    code = "internal_error"
    status = 500
    default_message = "Internal server error."
    # An answer that asks the client to send its request again, changed (as the
    # persisted-query protocol does): an Idempotency-Key never keeps it for replay.
    asks_to_resend = False

    def __init__(self, message: str | None = None, *, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self, request_id: str | None) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message,
                          "details": self.details, "request_id": request_id}}


class ValidationError(AppError):
    code = "validation_error"
    status = 400
    default_message = "The request is invalid."


class OperationRefused(ValidationError):
    """A GraphQL operation refused for what it asks before it runs (more root fields
    than allowed): like a failed validation, a GraphQL request error, not an HTTP one."""


# Not cacheable: the answer changes as soon as a client registers the document.
_UNCACHEABLE = {"Cache-Control": "private, no-cache, must-revalidate"}


class PersistedQueryNotFound(AppError):
    """Automatic persisted queries: the hash names no document this service holds.

    Apollo's protocol, which its clients expect word for word: message
    ``PersistedQueryNotFound``, code ``PERSISTED_QUERY_NOT_FOUND``, status 200 (a
    client sends the request again with the query's text, which registers it).
    """

    code = "PERSISTED_QUERY_NOT_FOUND"
    status = 200
    default_message = "PersistedQueryNotFound"
    asks_to_resend = True

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", dict(_UNCACHEABLE))
        super().__init__(message, **kwargs)


class PersistedQueryNotSupported(PersistedQueryNotFound):
    """A persisted query this service does not take (automatic persisted queries are
    off, or another version of the protocol): clients send the query's text instead."""

    code = "PERSISTED_QUERY_NOT_SUPPORTED"
    default_message = "PersistedQueryNotSupported"


class PersistedQueryRequired(AppError):
    """Trusted documents only (``DOCGRAPH_TRUSTED_DOCUMENTS``): a query text that is
    not one of them."""

    code = "persisted_query_required"
    status = 400
    default_message = ("Only trusted documents run here: send the hash of one "
                       "(extensions.persistedQuery or documentId), or its exact text.")


class InvalidKey(AppError):
    code = "invalid_key"
    status = 401
    default_message = "Invalid or expired API key."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="docgraph"'})
        super().__init__(message, **kwargs)


class InsufficientPermissions(AppError):
    code = "insufficient_permissions"
    status = 403
    default_message = "The API key lacks the permission this request needs."


class InvalidSignature(AppError):
    """A signed storage URL that is expired, tampered with, or used for another object."""

    code = "invalid_signature"
    status = 403
    default_message = "The signed URL is invalid or has expired."


class NotFound(AppError):
    code = "not_found"
    status = 404
    default_message = "Not found."


class MethodNotAllowed(AppError):
    code = "method_not_allowed"
    status = 405
    default_message = "Method not allowed."


class NotAcceptable(AppError):
    """None of the media types the request's ``Accept`` header names can be served."""

    code = "not_acceptable"
    status = 406
    default_message = "None of the media types the Accept header names can be served."


class StorageConflict(AppError):
    code = "storage_conflict"
    status = 409
    default_message = "A document already exists at the supplied storage_path."


class ObjectExists(AppError):
    """An upload URL used again after its object arrived (uploads are write-once)."""

    code = "object_exists"
    status = 412
    default_message = "An object was already uploaded to this URL."


class Conflict(AppError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state."


class DocumentNotClean(AppError):
    """A download or preview URL of a document whose bytes no scanner found clean
    (pending, infected, failed, or not scanned where scanning is mandatory)."""

    code = "document_not_clean"
    status = 409
    default_message = "The document's bytes are served only once a virus scan found them clean."

    def __init__(self, message: str | None = None, *, retry_after: int | None = None,
                 **kwargs: Any) -> None:
        if retry_after is not None:
            kwargs["headers"] = {"Retry-After": str(max(1, int(retry_after)))}
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class IdempotencyInProgress(AppError):
    code = "idempotency_in_progress"
    status = 409
    default_message = "A request with this Idempotency-Key is still being processed."


class IdempotencyMismatch(AppError):
    code = "idempotency_key_reused"
    status = 422
    default_message = "This Idempotency-Key was used with a different request."


class PayloadTooLarge(AppError):
    code = "payload_too_large"
    status = 413
    default_message = "The request body is too large."


class QuotaExceeded(AppError):
    code = "quota_exceeded"
    status = 413
    default_message = "The workspace's storage quota would be exceeded."


class RateLimited(AppError):
    code = "rate_limited"
    status = 429
    default_message = "Rate limit exceeded."

    def __init__(self, retry_after: int, message: str | None = None, **kwargs: Any) -> None:
        headers = {"Retry-After": str(max(1, int(retry_after)))}
        super().__init__(message, headers=headers, **kwargs)
        self.retry_after = retry_after


class Unavailable(AppError):
    code = "unavailable"
    status = 503
    default_message = "The service is temporarily unavailable; retry shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 2,
                 **kwargs: Any) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)}, **kwargs)
        self.retry_after = retry_after


class InternalError(AppError):
    """What an unexpected exception becomes once masked."""
