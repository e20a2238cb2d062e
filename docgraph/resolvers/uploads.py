"""The signed-upload flow: hand out an upload URL, then check what arrived.

1. ``request_upload``: the client names a file, its MIME type, its exact size
   and optionally its SHA-256; docgraph checks the quota, picks the object
   key itself (``workspaces/{workspace_id}/uploads/{id}{.ext}``: the client's
   file name only lends a safe extension) and returns a signed URL.
2. The client PUTs the bytes to the URL, sending the returned headers.
3. ``verify_upload`` (createDocument, before it records): the object exists
   under the caller's workspace, was requested through step 1, and its size
   and SHA-256 match. ``record_upload`` then, in the transaction that inserts
   the document, turns the pending upload into used bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from pathlib import PurePosixPath

from docgraph import auth
from docgraph.auth import Principal
from docgraph.db import uploads
from docgraph.db.database import Connection, Database
from docgraph.errors import NotFound, QuotaExceeded, StorageConflict, ValidationError
from docgraph.storage.base import ObjectStore
from docgraph.storage.keys import in_workspace, validate_key, workspace_prefix

MAX_FILE_NAME = 255
MIME_TOP_LEVEL_TYPES = ("application", "audio", "font", "image", "message", "model",
                        "multipart", "text", "video")
_MIME = re.compile(rf"(?:{'|'.join(MIME_TOP_LEVEL_TYPES)})/[a-z0-9][a-z0-9!#$&^_.+-]{{0,126}}")
_EXTENSION = re.compile(r"[a-z0-9]{1,16}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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


# -- input checks -----------------------------------------------------------------

def validate_file_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("file_name is required", details={"field": "file_name"})
    if len(value) > MAX_FILE_NAME:
        raise ValidationError(f"file_name is longer than {MAX_FILE_NAME} characters",
                              details={"field": "file_name"})
    if _CONTROL.search(value):
        raise ValidationError("file_name must not contain control characters",
                              details={"field": "file_name"})
    return value.strip()


def validate_mime_type(value: object) -> str:
    mime = value.strip().lower() if isinstance(value, str) else ""
    if not _MIME.fullmatch(mime):
        raise ValidationError(
            "mime_type must be an IANA media type without parameters, e.g. application/pdf",
            details={"field": "mime_type"})
    return mime


def validate_size(value: object, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("size_bytes must be an integer", details={"field": "size_bytes"})
    if value <= 0:
        raise ValidationError("size_bytes must be positive", details={"field": "size_bytes"})
    if value > maximum:
        raise ValidationError(f"size_bytes is over the largest upload accepted ({maximum})",
                              details={"field": "size_bytes", "max": maximum})
    return value


def parse_sha256(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ValidationError("sha256 must be 64 hexadecimal characters",
                              details={"field": "sha256"})
    return bytes.fromhex(value)


def safe_extension(file_name: str) -> str:
    """``.ext`` of the file name's last component when it is short and alphanumeric."""
    last = PurePosixPath(file_name.replace("\\", "/")).name
    stem, dot, ext = last.rpartition(".")
    ext = ext.lower()
    return f".{ext}" if dot and stem.strip(".") and _EXTENSION.fullmatch(ext) else ""


def upload_key(workspace_id: uuid.UUID, upload_id: uuid.UUID, file_name: str) -> str:
    return f"{workspace_prefix(workspace_id)}uploads/{upload_id.hex}{safe_extension(file_name)}"


# -- use cases ----------------------------------------------------------------------

async def request_upload(db: Database, store: ObjectStore, principal: Principal, *,
                         file_name: str, mime_type: str, size_bytes: int,
                         sha256: str | None = None) -> UploadTicket:
    """A signed URL for one upload of exactly ``size_bytes``, counted toward the quota."""
    principal.require(auth.WRITE_DOCUMENTS)
    name = validate_file_name(file_name)
    mime = validate_mime_type(mime_type)
    size = validate_size(size_bytes, store.limits.max_object_bytes)
    checksum = parse_sha256(sha256)
    upload_id = uuid.uuid4()
    key = upload_key(principal.workspace_id, upload_id, name)
    presigned = store.presign_upload(key, content_type=mime, size=size)
    async with db.transaction() as conn:
        usage = await uploads.lock_workspace_usage(conn, principal.workspace_id)
        if usage is None:
            raise NotFound("Workspace not found.")
        available = usage["quota_bytes"] - usage["used_bytes"] - usage["pending_bytes"]
        if size > available:
            raise QuotaExceeded(
                f"This upload of {size} bytes would exceed the workspace's quota: "
                f"{max(available, 0)} bytes are available.",
                details={"quota_bytes": usage["quota_bytes"], "used_bytes": usage["used_bytes"],
                         "pending_bytes": usage["pending_bytes"], "size_bytes": size})
        await uploads.insert_upload(
            conn, workspace_id=principal.workspace_id, upload_id=upload_id, storage_path=key,
            file_name=name, mime_type=mime, size_bytes=size, checksum_sha256=checksum,
            expires_at=presigned.expires_at)
    return UploadTicket(upload_url=presigned.url, method=presigned.method,
                        headers=presigned.headers, storage_path=key,
                        expires_at=presigned.expires_at)


def _invalid(field: str, message: str, **details: object) -> ValidationError:
    return ValidationError(message, details={"field": field, **details})


async def verify_upload(db: Database, store: ObjectStore, principal: Principal, *,
                        storage_path: str, size_bytes: int | None = None,
                        sha256: str | None = None,
                        mime_type: str | None = None) -> VerifiedUpload:
    """Check that the bytes at ``storage_path`` arrived complete and as declared.

    Every failure is a ``ValidationError`` naming the problem. The SHA-256
    (given here, or declared when the URL was requested) is computed by
    streaming the object, off the event loop.
    """
    principal.require(auth.WRITE_DOCUMENTS)
    key = validate_key(storage_path)
    if not in_workspace(key, principal.workspace_id):
        raise _invalid("storage_path", "storage_path is not in this workspace: it must start "
                       f"with {workspace_prefix(principal.workspace_id)}")
    if size_bytes is not None and (not isinstance(size_bytes, int)
                                   or isinstance(size_bytes, bool) or size_bytes < 0):
        raise _invalid("size_bytes", "size_bytes must be a non-negative integer")
    declared_sha = parse_sha256(sha256)
    mime = validate_mime_type(mime_type) if mime_type is not None else None
    pending = await uploads.get_upload(db, principal.workspace_id, key)
    if pending is None:
        raise _invalid("storage_path", "no upload is pending at storage_path: request an "
                       "upload URL first (an upload is recorded once, and expires if never "
                       "recorded)")
    if mime is not None and mime != pending["mime_type"]:
        raise _invalid("mime_type", f"mime_type {mime} differs from the {pending['mime_type']} "
                       "declared for this upload", declared=pending["mime_type"])
    if declared_sha is not None and pending["checksum_sha256"] is not None \
            and declared_sha != pending["checksum_sha256"]:
        raise _invalid("sha256", "sha256 differs from the one declared for this upload")
    expected_sha = declared_sha or pending["checksum_sha256"]

    info = await store.stat(key)
    if info is None:
        raise _invalid("storage_path", "nothing has been uploaded to storage_path yet")
    if info.size != pending["size_bytes"]:
        raise _invalid("storage_path", f"the object has {info.size} bytes, not the "
                       f"{pending['size_bytes']} declared for this upload",
                       actual=info.size, declared=pending["size_bytes"])
    if size_bytes is not None and size_bytes != info.size:
        raise _invalid("size_bytes", f"size_bytes is {size_bytes} but the uploaded object "
                       f"has {info.size} bytes", actual=info.size)
    if expected_sha is not None:
        actual_sha = await store.checksum_sha256(key)
        if actual_sha is None:
            raise _invalid("storage_path", "nothing has been uploaded to storage_path yet")
        if actual_sha != expected_sha:
            raise _invalid("sha256", "the uploaded bytes' SHA-256 is "
                           f"{actual_sha.hex()}, not the declared {expected_sha.hex()}",
                           actual=actual_sha.hex())
    return VerifiedUpload(storage_path=key, size_bytes=info.size,
                          mime_type=pending["mime_type"], file_name=pending["file_name"],
                          checksum_sha256=expected_sha)


async def record_upload(conn: Connection, principal: Principal, storage_path: str) -> int:
    """In the transaction recording the document: the upload stops being pending.

    Its size moves into the workspace's ``used_bytes`` (returned). A
    concurrent createDocument that recorded it first makes this one a
    ``StorageConflict``.
    """
    size = await uploads.record_upload(conn, principal.workspace_id, storage_path)
    if size is None:
        raise StorageConflict("The upload at storage_path was already recorded or has expired.")
    return int(size)
