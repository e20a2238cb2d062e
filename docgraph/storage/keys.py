"""Object keys: what a key may look like, and where a workspace's keys live.

A key is ``/``-separated segments of URL-unreserved characters (letters,
digits, ``.``, ``_``, ``-``, ``~``). No segment is empty or starts with a dot,
so a key can contain neither ``..`` nor a leading ``/``, no backslash, no
NUL, and needs no escaping in a URL or on a filesystem. The local backend
keeps its own bookkeeping in dot-files, which no key can name.
"""

from __future__ import annotations

import re
import uuid

from docgraph.errors import ValidationError

MAX_KEY_LENGTH = 1024
_SEGMENT = r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")


def validate_key(key: object, field: str = "storage_path") -> str:
    """``key`` if it is a well-formed object key, else a ``ValidationError``."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH \
            or not _KEY.fullmatch(key):
        message = (f"{field} is not a valid object key: '/'-separated segments of letters, "
                   "digits, '.', '_', '-' or '~', none empty or starting with '.', at most "
                   f"{MAX_KEY_LENGTH} characters")
        raise ValidationError(message, details={"fields": {field: message}})
    return key


def validate_prefix(prefix: str) -> str:
    """``prefix`` if it is empty or a key, optionally ending in ``/``."""
    if prefix:
        validate_key(prefix[:-1] if prefix.endswith("/") else prefix, "prefix")
    return prefix


def workspace_prefix(workspace_id: uuid.UUID) -> str:
    """Every object of a workspace lives under this prefix."""
    return f"workspaces/{workspace_id}/"


def in_workspace(key: str, workspace_id: uuid.UUID) -> bool:
    return key.startswith(workspace_prefix(workspace_id))


def preview_key(storage_path: str, extension: str) -> str:
    """Where the preview image of the object at ``storage_path`` is kept: beside it."""
    return f"{storage_path}.preview.{extension}"


def deleted_prefix(workspace_id: uuid.UUID) -> str:
    """Where a workspace's deleted documents' bytes wait for the grace period to end.

    No signed URL ever names a key under it: moving an object here revokes every
    URL issued for it before.
    """
    return f"{workspace_prefix(workspace_id)}deleted/"


def deleted_key(workspace_id: uuid.UUID, document_id: uuid.UUID, *, preview: bool = False
                ) -> str:
    """Where a deleted document's bytes (or its preview) are kept until they are purged:
    ``workspaces/{workspace_id}/deleted/{document_id hex}[.preview]``. Derived from the
    document alone, whatever its storage path; the row keeps the original paths."""
    return f"{deleted_prefix(workspace_id)}{document_id.hex}{'.preview' if preview else ''}"


def deleted_document_of(key: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (workspace id, document id) whose deleted bytes or preview ``key`` holds, or
    None when ``key`` is not a key of :func:`deleted_key`'s form."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "workspaces" or parts[2] != "deleted":
        return None
    name = parts[3].removesuffix(".preview")
    try:
        workspace_id, document_id = uuid.UUID(parts[1]), uuid.UUID(hex=name)
    except ValueError:
        return None
    if document_id.hex != name:  # only the spelling deleted_key writes
        return None
    return workspace_id, document_id
