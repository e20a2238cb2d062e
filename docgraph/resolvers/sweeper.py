"""Removing bytes nothing will ever need: the storage sweep.

* Uploads never recorded as a document within ``orphan_after``: bytes and row go.
* Uploads whose URL expired an hour ago and whose bytes never arrived: the row
  goes, so the quota they held is free again (bytes that did arrive are noted
  and wait for the rule above, or for a document).
* Deletions whose bytes were not moved away (``resolvers.deletion``: a crash
  or an outage cut the move short, or the document was deleted before deletions
  moved bytes) ``MOVE_RETRY_AFTER`` after they were recorded: the move is
  finished, so URLs signed before the deletion stop serving the bytes.
* Documents soft-deleted more than ``delete_grace`` ago: their bytes and
  preview go (from their deleted keys, and their original ones if the move
  never finished), then the row (and its links).
* Infected documents found more than ``delete_grace`` ago: their bytes go
  (moved out of reach when they were found); the row stays, with its
  signature.
* Leftovers of interrupted uploads (local backend).
* Image and PDF documents no preview job has looked at ``IMAGE_RETRY_AFTER`` after
  they were recorded (the job was lost to a crash or an outage): the job runs
  again, at most ``IMAGE_MAX_ATTEMPTS`` times per document, a batch per sweep.
* ``deep``: every object under ``workspaces/`` older than ``orphan_after`` that
  no document and no pending upload refers to (a crash between writing a
  preview and recording it, an upload finished after it was forgotten). A key
  under a workspace's ``deleted/`` prefix is referred to by its document's row,
  which stays until the grace period ends: moved bytes are never removed early,
  and never left once their row is gone.

Rows are locked ``for update skip locked`` while their bytes are deleted and
removed only once that succeeded, so a storage failure just leaves them for
the next run. The whole sweep runs under a PostgreSQL advisory lock: with
several instances, one sweeps and the others skip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid

from docgraph.config import Settings
from docgraph.db import document_files, uploads
from docgraph.db.database import Database
from docgraph.db.locks import SWEEP_LOCK_KEY, try_advisory_lock
from docgraph.errors import Unavailable
from docgraph.resolvers.deletion import keys_to_purge, move_objects
from docgraph.resolvers.previews import PREVIEW_MIME_TYPES, process_document_preview
from docgraph.resolvers.scans import purge_infected
from docgraph.storage.base import ObjectStore
from docgraph.storage.keys import deleted_document_of

log = logging.getLogger("docgraph.sweeper")

BATCH = 100
LIST_BATCH = 500
# How long after its URL expired an upload may still be arriving (a slow PUT
# that started just before expiry).
ARRIVAL_GRACE = dt.timedelta(hours=1)
# Longer than a preview job may wait for its turn, so the sweep does not race it.
IMAGE_RETRY_AFTER = dt.timedelta(minutes=10)
IMAGE_MAX_ATTEMPTS = 3
IMAGE_BATCH = 20
# A deletion's own request moves its bytes within moments; the sweep finishes
# only the moves left unfinished for longer than this, so it does not race it.
MOVE_RETRY_AFTER = dt.timedelta(minutes=1)


@dataclasses.dataclass
class SweepReport:
    orphan_uploads: int = 0
    forgotten_uploads: int = 0
    finished_moves: int = 0
    purged_documents: int = 0
    incomplete_uploads: int = 0
    unreferenced_objects: int = 0
    retried_images: int = 0
    purged_infected: int = 0
    skipped: bool = False

    def total(self) -> int:
        return (self.orphan_uploads + self.forgotten_uploads + self.finished_moves
                + self.purged_documents
                + self.incomplete_uploads + self.unreferenced_objects + self.retried_images
                + self.purged_infected)


async def sweep_orphan_uploads(db: Database, store: ObjectStore,
                               created_before: dt.datetime) -> int:
    """Delete the bytes and rows of uploads requested before ``created_before``."""
    removed = 0
    while True:
        async with db.transaction() as conn:
            rows = await uploads.lock_uploads_created_before(conn, created_before, BATCH)
            for row in rows:
                await store.delete(row["storage_path"])
            await uploads.delete_uploads(conn, rows)
        removed += len(rows)
        if len(rows) < BATCH:
            return removed


async def forget_unarrived_uploads(db: Database, store: ObjectStore,
                                   expired_before: dt.datetime) -> int:
    """Drop expired uploads whose bytes never arrived; note those whose bytes did."""
    forgotten = 0
    while True:
        async with db.transaction() as conn:
            rows = await uploads.lock_unseen_uploads_expired_before(conn, expired_before, BATCH)
            infos = [await store.stat(row["storage_path"]) for row in rows]
            gone = [row for row, info in zip(rows, infos, strict=True) if info is None]
            arrived = [row for row, info in zip(rows, infos, strict=True) if info is not None]
            await uploads.delete_uploads(conn, gone)
            await uploads.mark_arrived(conn, arrived)
        forgotten += len(gone)
        if len(rows) < BATCH:
            return forgotten


async def finish_interrupted_moves(db: Database, store: ObjectStore,
                                   deleted_before: dt.datetime) -> int:
    """Move away the bytes and preview of documents deleted before ``deleted_before``
    that still sit at their original keys; return how many deletions were finished.

    Bytes a live document still uses stay where they are (nothing to revoke).
    """
    finished = 0
    while True:
        async with db.transaction() as conn:
            rows = await document_files.lock_unmoved_deleted_before(conn, deleted_before,
                                                                    BATCH)
            for row in rows:
                if not row["path_in_use"]:
                    await move_objects(store, row["workspace_id"], row["id"],
                                       row["storage_path"], row["preview_path"])
            await document_files.mark_bytes_moved(conn, rows)
        finished += len(rows)
        if len(rows) < BATCH:
            return finished


async def purge_deleted_documents(db: Database, store: ObjectStore,
                                  deleted_before: dt.datetime) -> int:
    """Remove the bytes, preview and row of documents deleted before ``deleted_before``."""
    purged = 0
    while True:
        async with db.transaction() as conn:
            rows = await document_files.lock_deleted_before(conn, deleted_before, BATCH)
            for row in rows:
                for key in keys_to_purge(row["workspace_id"], row["id"], row["storage_path"],
                                         row["preview_path"],
                                         moved=row["bytes_moved_at"] is not None,
                                         path_in_use=row["path_in_use"]):
                    await store.delete(key)
            await document_files.delete_documents(conn, rows)
        purged += len(rows)
        if len(rows) < BATCH:
            return purged


async def retry_unchecked_images(db: Database, store: ObjectStore,
                                 created_before: dt.datetime, *,
                                 limit: int = IMAGE_BATCH) -> int:
    """Run the preview job again for image and PDF documents recorded before
    ``created_before`` that none has looked at (and whose bytes may be read: clean,
    or not scanned); return how many were tried.

    Each try is counted first, so a file that crashes the process is given up
    after ``IMAGE_MAX_ATTEMPTS``. A storage outage gives the try back and ends
    the batch (``Unavailable``); any other failure is logged and costs the try.
    """
    rows = await document_files.select_unchecked_images(
        db, sorted(PREVIEW_MIME_TYPES), created_before, IMAGE_MAX_ATTEMPTS, limit)
    for row in rows:
        workspace_id, document_id = row["workspace_id"], row["id"]
        await document_files.count_image_check_attempt(db, workspace_id, document_id)
        try:
            await process_document_preview(db, store, workspace_id, document_id)
        except Unavailable:
            await document_files.count_image_check_attempt(db, workspace_id, document_id,
                                                           undo=True)
            raise
        except Exception:
            log.exception("preview retry failed", extra={"document_id": str(document_id)})
    return len(rows)


def _workspace_of(key: str) -> uuid.UUID | None:
    parts = key.split("/", 2)
    if len(parts) < 3 or parts[0] != "workspaces":
        return None
    try:
        return uuid.UUID(parts[1])
    except ValueError:
        return None


async def sweep_unreferenced_objects(db: Database, store: ObjectStore,
                                     modified_before: dt.datetime, *,
                                     prefix: str = "workspaces/") -> int:
    """Delete objects under ``prefix`` older than ``modified_before`` that nothing refers to."""
    removed = 0
    batch: list[tuple[uuid.UUID, str, uuid.UUID | None]] = []

    async def flush() -> int:
        referenced = await document_files.referenced_keys(db, batch)
        unreferenced = [key for _, key, _ in batch if key not in referenced]
        for key in unreferenced:
            await store.delete(key)
        batch.clear()
        return len(unreferenced)

    async for info in store.list_older_than(prefix, modified_before):
        workspace_id = _workspace_of(info.key)
        if workspace_id is None:
            continue  # not laid out by docgraph: not ours to judge
        deleted = deleted_document_of(info.key)
        batch.append((workspace_id, info.key, deleted[1] if deleted else None))
        if len(batch) >= LIST_BATCH:
            removed += await flush()
    if batch:
        removed += await flush()
    return removed


async def sweep(db: Database, store: ObjectStore, *, orphan_after: dt.timedelta,
                delete_grace: dt.timedelta, deep: bool = False,
                now: dt.datetime | None = None) -> SweepReport:
    """One sweep, unless another instance is sweeping right now (``skipped``)."""
    now = now or dt.datetime.now(dt.UTC)
    report = SweepReport()
    async with try_advisory_lock(db, SWEEP_LOCK_KEY) as acquired:
        if not acquired:
            report.skipped = True
            return report
        report.orphan_uploads = await sweep_orphan_uploads(db, store, now - orphan_after)
        report.forgotten_uploads = await forget_unarrived_uploads(db, store,
                                                                  now - ARRIVAL_GRACE)
        report.finished_moves = await finish_interrupted_moves(db, store,
                                                               now - MOVE_RETRY_AFTER)
        report.purged_documents = await purge_deleted_documents(db, store, now - delete_grace)
        report.purged_infected = await purge_infected(db, store, now - delete_grace)
        report.incomplete_uploads = await store.purge_incomplete(now - orphan_after)
        report.retried_images = await retry_unchecked_images(db, store,
                                                             now - IMAGE_RETRY_AFTER)
        if deep:
            report.unreferenced_objects = await sweep_unreferenced_objects(
                db, store, now - orphan_after)
    return report


async def sweep_with(db: Database, store: ObjectStore, settings: Settings, *,
                     deep: bool = False) -> SweepReport:
    return await sweep(db, store, deep=deep,
                       orphan_after=dt.timedelta(seconds=settings.orphan_upload_seconds),
                       delete_grace=dt.timedelta(seconds=settings.delete_grace_seconds))
