"""The signed-upload flow: hand out an upload URL, then check what arrived.

1. ``request_upload``: the client names a file, its MIME type, its exact size
   and optionally its SHA-256; docgraph checks the quota, picks the object
   key itself (``workspaces/{workspace_id}/uploads/{id}{.ext}``: the client's
   file name only lends a safe extension) and returns a signed URL.
2. The client PUTs the bytes to the URL, sending the returned headers.
3. ``verify_upload`` (createDocument, before it records): the object exists
   under the caller's workspace, was requested through step 1, its size and
   SHA-256 match, and its first bytes (one ranged read) do not contradict the
   declared type (``resolvers.filetypes``). The statement that then records the document
   (``db.documents.insert_uploaded_document``) turns the pending upload into
   used bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from docgraph.db import documents as documents_db
from docgraph.db import uploads
from docgraph.db.database import Database
from docgraph.errors import NotFound, QuotaExceeded, StorageConflict, ValidationError
from docgraph.resolvers import auth, filetypes
from docgraph.resolvers import validation as v
from docgraph.resolvers.auth import Principal
from docgraph.resolvers.resources import UPLOAD_REQUEST, sha256_digest, upload_size
from docgraph.storage.base import ObjectStore, invalid
from docgraph.storage.keys import in_workspace, validate_key, workspace_prefix

if TYPE_CHECKING:
    from docgraph.resolvers.context import RequestContext

_EXTENSION = re.compile(r"[a-z0-9]{1,16}")


@dataclasses.dataclass(frozen=True, slots=True)
class UploadTicket:
    """What requestUploadUrl answers: PUT the bytes to ``upload_url`` with ``headers``."""

    upload_url: str
    method: str
    headers: dict[str, str]
    storage_path: str
    expires_at: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class VerifiedUpload:
    """An upload that arrived complete and as declared: what a document records."""

    storage_path: str
    size_bytes: int
    mime_type: str
    file_name: str
    checksum_sha256: bytes | None
    detected_mime_type: str | None = None


# -- input checks (the rules of ``resolvers.validation``, and their error shape) ---------

def parse_sha256(value: object) -> bytes | None:
    return None if value is None else v.check("sha256", sha256_digest, value)


def safe_extension(name: str) -> str:
    """``.ext`` of the file name's last component when it is short and alphanumeric."""
    last = PurePosixPath(name.replace("\\", "/")).name
    stem, dot, ext = last.rpartition(".")
    ext = ext.lower()
    return f".{ext}" if dot and stem.strip(".") and _EXTENSION.fullmatch(ext) else ""


def upload_key(workspace_id: uuid.UUID, upload_id: uuid.UUID, name: str) -> str:
    return f"{workspace_prefix(workspace_id)}uploads/{upload_id.hex}{safe_extension(name)}"


# -- use cases ----------------------------------------------------------------------

def _parse_upload(store: ObjectStore, fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` cleaned, the size held to the largest upload this store accepts."""
    return UPLOAD_REQUEST.parse(fields, validators={
        "size_bytes": upload_size(store.limits.max_object_bytes)})


async def request_upload_url(ctx: RequestContext, fields: Mapping[str, Any]) -> UploadTicket:
    """requestUploadUrl and POST /v1/documents/upload-url: ``fields`` as the caller sent
    them (``file_name``, ``mime_type``, ``size_bytes``, optional ``sha256``); any other
    field is refused. See :func:`request_upload`."""
    ctx.principal.require(auth.WRITE_DOCUMENTS)
    new = _parse_upload(ctx.store, fields)
    return await _request_upload(ctx.db, ctx.store, ctx.principal, new)


async def request_upload(db: Database, store: ObjectStore, principal: Principal, *,
                         file_name: Any, mime_type: Any, size_bytes: Any,
                         sha256: Any = None) -> UploadTicket:
    """A signed URL for one upload of exactly ``size_bytes``, counted toward the quota.

    Invalid input is a ``ValidationError`` naming every bad field; over the
    quota, ``QuotaExceeded``; storage unreachable, ``Unavailable`` (before
    anything is recorded).
    """
    principal.require(auth.WRITE_DOCUMENTS)
    given = {"file_name": file_name, "mime_type": mime_type, "size_bytes": size_bytes,
             "sha256": sha256}
    new = _parse_upload(store, {k: value for k, value in given.items() if value is not None})
    return await _request_upload(db, store, principal, new)


async def _request_upload(db: Database, store: ObjectStore, principal: Principal,
                          new: Mapping[str, Any]) -> UploadTicket:
    name, mime, size = new["file_name"], new["mime_type"], new["size_bytes"]
    upload_id = uuid.uuid4()
    key = upload_key(principal.workspace_id, upload_id, name)
    presigned = store.presign_upload(key, content_type=mime, size=size)
    await store.ensure_available()
    reserved = await uploads.reserve_upload(
        db, workspace_id=principal.workspace_id, upload_id=upload_id, storage_path=key,
        file_name=name, mime_type=mime, size_bytes=size, checksum_sha256=new.get("sha256"),
        expires_at=presigned.expires_at)
    if not reserved:
        usage = await uploads.get_usage(db, principal.workspace_id)
        if usage is None:
            raise NotFound("Workspace not found.")
        available = usage["quota_bytes"] - usage["used_bytes"] - usage["pending_bytes"]
        raise QuotaExceeded(
            f"This upload of {size} bytes would exceed the workspace's quota: "
            f"{max(available, 0)} bytes are available.",
            details={"quota_bytes": usage["quota_bytes"], "used_bytes": usage["used_bytes"],
                     "pending_bytes": usage["pending_bytes"], "size_bytes": size})
    return UploadTicket(upload_url=presigned.url, method=presigned.method,
                        headers=presigned.headers, storage_path=key,
                        expires_at=presigned.expires_at)


def _no_pending_upload(workspace_id: uuid.UUID) -> ValidationError:
    return invalid("storage_path", "no upload is pending at storage_path: request an upload "
                   "URL first; its storagePath lies under "
                   f"{workspace_prefix(workspace_id)} (an upload is recorded once, and "
                   "expires if never recorded)")


async def verify_upload(db: Database, store: ObjectStore, principal: Principal, *,
                        storage_path: str, size_bytes: int | None = None,
                        sha256: str | None = None,
                        mime_type: str | None = None) -> VerifiedUpload:
    """Check that the bytes at ``storage_path`` arrived complete and as declared.

    The bytes' type is read from their first ``filetypes.HEAD_BYTES`` (one
    ranged read): a declared type they contradict is a ``ValidationError``
    naming both (``details.declared``, ``details.detected``).

    Every failure is a ``ValidationError`` naming the problem, except a path
    a live document of the workspace already records: ``StorageConflict``. A
    path outside the caller's workspace gets exactly the answer of a path
    where nothing was ever requested, so nothing about other workspaces
    leaks. The SHA-256 (given here, or declared when the URL was requested)
    is computed by streaming the object, off the event loop.
    """
    principal.require(auth.WRITE_DOCUMENTS)
    key = validate_key(storage_path)
    if size_bytes is not None and (not isinstance(size_bytes, int)
                                   or isinstance(size_bytes, bool) or size_bytes < 0):
        raise invalid("size_bytes", "size_bytes must be a non-negative integer")
    declared_sha = parse_sha256(sha256)
    mime = v.check("mime_type", v.mime_type, mime_type) if mime_type is not None else None
    workspace_id = principal.workspace_id
    pending = await uploads.get_upload(db, workspace_id, key) \
        if in_workspace(key, workspace_id) else None
    if pending is None:
        if await documents_db.live_document_at(db, workspace_id, key):
            raise StorageConflict(details={"storage_path": key})
        raise _no_pending_upload(workspace_id)
    if mime is not None and mime != pending["mime_type"]:
        raise invalid("mime_type", f"mime_type {mime} differs from the {pending['mime_type']} "
                      "declared for this upload", declared=pending["mime_type"])
    if declared_sha is not None and pending["checksum_sha256"] is not None \
            and declared_sha != pending["checksum_sha256"]:
        raise invalid("sha256", "sha256 differs from the one declared for this upload")
    expected_sha = declared_sha or pending["checksum_sha256"]

    info = await store.stat(key)
    if info is None:
        raise invalid("storage_path", "nothing has been uploaded to storage_path yet")
    if info.size != pending["size_bytes"]:
        raise invalid("storage_path", f"the object has {info.size} bytes, not the "
                      f"{pending['size_bytes']} declared for this upload",
                      actual=info.size, declared=pending["size_bytes"])
    if size_bytes is not None and size_bytes != info.size:
        raise invalid("size_bytes", f"size_bytes is {size_bytes} but the uploaded object "
                      f"has {info.size} bytes", actual=info.size)
    if info.content_type is not None and info.content_type.lower() != pending["mime_type"]:
        raise invalid("storage_path", f"the object was stored as {info.content_type}, not "
                      f"the {pending['mime_type']} declared for this upload",
                      actual=info.content_type, declared=pending["mime_type"])
    detected = None
    if info.size > 0:
        head = await store.read_head(key, filetypes.HEAD_BYTES)
        if head is None:
            raise invalid("storage_path", "nothing has been uploaded to storage_path yet")
        detected = await filetypes.detect(head)
        if not filetypes.compatible(pending["mime_type"], detected):
            message = (f"the uploaded bytes are {detected}, not the declared "
                       f"{pending['mime_type']}")
            raise ValidationError(message, details={
                "fields": {"mime_type": message}, "declared": pending["mime_type"],
                "detected": detected})
    if expected_sha is not None:
        actual_sha = await store.checksum_sha256(key)
        if actual_sha is None:
            raise invalid("storage_path", "nothing has been uploaded to storage_path yet")
        if actual_sha != expected_sha:
            raise invalid("sha256", "the uploaded bytes' SHA-256 is "
                          f"{actual_sha.hex()}, not the declared {expected_sha.hex()}",
                          actual=actual_sha.hex())
    return VerifiedUpload(storage_path=key, size_bytes=info.size,
                          mime_type=pending["mime_type"], file_name=pending["file_name"],
                          checksum_sha256=expected_sha, detected_mime_type=detected)
