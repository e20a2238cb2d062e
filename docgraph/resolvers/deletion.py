"""A deleted document's bytes, out of reach of every URL signed for them before.

Signed URLs name an object key and cannot be recalled: a URL signed for 24
hours keeps working for 24 hours on an S3 service, whatever docgraph's
database says. So deleting a document moves its bytes and its preview away
from the keys those URLs name, to keys no URL is ever signed for,
``storage.keys.deleted_key`` (``workspaces/{workspace}/deleted/{document}``,
and ``.preview``): any earlier URL then answers 404. The bytes wait there
for the grace period, until the sweep purges them with the row.

Order, so that a crash or an outage loses nothing and serves nothing for
long: the deletion is recorded first (the document vanishes from every read
at once), then the objects are moved (S3: copy, then delete; local: a
rename), then ``bytes_moved_at`` records that the move finished. A move cut
short is finished by the same steps again: by the DELETE retried (it answered
503), or by the sweep (``finish_interrupted_moves``). Each step is safe to
repeat.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from docgraph.db import document_files
from docgraph.db.database import Database
from docgraph.storage.base import ObjectStore
from docgraph.storage.keys import deleted_key


async def move_objects(store: ObjectStore, workspace_id: uuid.UUID, document_id: uuid.UUID,
                       storage_path: str, preview_path: str | None) -> None:
    """Move a deleted document's bytes and preview to its deleted keys (idempotent)."""
    await store.move(storage_path, deleted_key(workspace_id, document_id))
    if preview_path is not None:
        await store.move(preview_path, deleted_key(workspace_id, document_id, preview=True))


def keys_to_purge(workspace_id: uuid.UUID, document_id: uuid.UUID, storage_path: str,
                  preview_path: str | None, *, moved: bool, path_in_use: bool) -> list[str]:
    """Every key a deleted document's bytes may sit at, for the purge after the grace.

    The deleted keys always (the preview's when there is one); the original ones
    too unless the move is known to have finished, or a live document still uses
    them.
    """
    keys = [deleted_key(workspace_id, document_id)]
    if preview_path is not None:
        keys.append(deleted_key(workspace_id, document_id, preview=True))
    if not moved and not path_in_use:
        keys += [storage_path] + ([preview_path] if preview_path is not None else [])
    return keys


async def finish_deletion(db: Database, store: ObjectStore, workspace_id: uuid.UUID,
                          deleted: Mapping[str, Any]) -> None:
    """Move the objects of a deletion just recorded (``deleted``: its ``id``,
    ``storage_path`` and ``preview_path``), then record that they moved.

    ``Unavailable`` when the store fails: the deletion stands, the move is
    finished by a retry or by the sweep.
    """
    await move_objects(store, workspace_id, deleted["id"], deleted["storage_path"],
                       deleted["preview_path"])
    await document_files.mark_bytes_moved(db, [{"workspace_id": workspace_id,
                                                "id": deleted["id"]}])
