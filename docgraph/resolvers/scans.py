"""Virus scans of new documents, and what their results allow.

With a scanner configured (``DOCGRAPH_CLAMD_ADDRESS``), a new document is
recorded ``pending``, and ``scan_document`` runs right after (a background
job): it claims a try (``db.scans``: counted first, held for a lease, so no
two instances scan it at once and a crash only delays it), streams the object
to the scanner and records the result. The first try is the recording
instance's: the document is recorded due a lease ahead, so another instance's
round (which may run no text jobs) does not take it first:

* clean: the document may be downloaded; its preview job runs now, and its text
  extraction starts (``resolvers.texts``, in the jobs' text lane when the caller
  passes ``jobs``);
* infected: the signature is recorded and the bytes leave their key at once
  (moved as a deletion moves them, so no URL can ever serve them); the sweep
  removes them after the delete grace period;
* the scanner did not answer: another try after ``scan_retry_seconds``,
  doubling, until ``scan_attempts`` tries were made: then ``failed``
  (``unreachable``), and ``scan_due`` queues it again as soon as the scanner
  answers (but if the scanner answers a ping right then, this file is what it
  cannot scan in time: ``refused``, for good);
* the scanner refused the file (over its size limit, say): ``failed``
  (``refused``);
* the object store did not answer: the try is given back and retried later.

``scan_due`` is the periodic side (each instance runs it every
``scan_poll_seconds``): tries that are due (retries, tries lost to a crash).
Without a scanner documents are ``not_scanned`` (or ``pending`` until one
comes, when scanning is mandatory).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from docgraph.config import Settings
from docgraph.db import scans as scans_db
from docgraph.db.database import Database
from docgraph.errors import DocumentNotClean, NotFound, Unavailable
from docgraph.resolvers import texts
from docgraph.resolvers.deletion import keys_to_purge
from docgraph.resolvers.previews import has_preview_job, process_document_preview
from docgraph.resolvers.records import DocumentRecord, ScanStatus
from docgraph.scanning.base import Scanner, ScannerUnavailable, ScanRefused
from docgraph.storage.base import ObjectStore
from docgraph.storage.keys import deleted_key

if TYPE_CHECKING:
    from docgraph.resolvers.context import Jobs

log = logging.getLogger("docgraph.scans")

MAX_RETRY_SECONDS = 3600.0
DUE_BATCH = 20
REQUEUE_BATCH = 500
PURGE_BATCH = 100
STORE_RETRY_SECONDS = 30.0


def initial_status(settings: Settings, scanner: Scanner | None) -> ScanStatus:
    """A new document's scan status: pending when something will (or must) scan it."""
    if scanner is not None or settings.scan_required:
        return ScanStatus.PENDING
    return ScanStatus.NOT_SCANNED


def first_try_lease(settings: Settings, scanner: Scanner | None) -> float:
    """How long a new pending document's first try is left to the instance that records
    it: a lease when it scans it itself, none when only other instances can."""
    return lease_seconds(settings) if scanner is not None else 0.0


def lease_seconds(settings: Settings) -> float:
    """How long a try holds its document: longer than a scan of the largest file may
    take between two answers of the scanner, and never less than a minute."""
    return max(60.0, 4 * settings.scan_timeout_seconds)


def downloadable(document: DocumentRecord, settings: Settings) -> bool:
    return document.scan_status in downloadable_statuses(settings)


def downloadable_statuses(settings: Settings) -> tuple[ScanStatus, ...]:
    """The scan statuses whose documents' bytes may be served."""
    if settings.scan_required:
        return (ScanStatus.CLEAN,)
    return (ScanStatus.CLEAN, ScanStatus.NOT_SCANNED)


def require_clean(document: DocumentRecord, settings: Settings) -> None:
    """``DocumentNotClean`` unless the document's bytes may be served."""
    if downloadable(document, settings):
        return
    status = document.scan_status
    details: dict[str, Any] = {"scan_status": status.value}
    retry_after = None
    if status is ScanStatus.PENDING:
        message = "The document is waiting for its virus scan; its bytes are served once " \
                  "the scan finds them clean."
        retry_after = max(1, round(settings.scan_retry_seconds))
    elif status is ScanStatus.INFECTED:
        message = f"The virus scan found {document.scan_signature} in the document: its " \
                  "bytes are never served."
        details["scan_signature"] = document.scan_signature
    elif status is ScanStatus.FAILED:
        message = "The document could not be scanned for viruses: its bytes are not served."
    else:
        message = "Scanning is mandatory here and the document was never scanned: its " \
                  "bytes are not served."
    raise DocumentNotClean(message, details=details, retry_after=retry_after)


def _retry_delay(settings: Settings, attempts: int) -> float:
    return min(settings.scan_retry_seconds * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)


async def scan_document(db: Database, store: ObjectStore, scanner: Scanner | None,
                        settings: Settings, workspace_id: uuid.UUID,
                        document_id: uuid.UUID, jobs: Jobs | None = None) -> ScanStatus | None:
    """Scan one document now if its try is due (the job right after recording)."""
    if scanner is None:
        return None
    claimed = await scans_db.claim_scan(db, workspace_id, document_id,
                                        lease_seconds=lease_seconds(settings))
    if claimed is None:
        return None
    return await _scan_claimed(db, store, scanner, settings, claimed, jobs)


async def _scan_claimed(db: Database, store: ObjectStore, scanner: Scanner,
                        settings: Settings, claimed: Mapping[str, Any],
                        jobs: Jobs | None = None) -> ScanStatus | None:
    workspace_id, document_id = claimed["workspace_id"], claimed["id"]
    path, attempts = claimed["storage_path"], claimed["scan_attempts"]
    extra = {"document_id": str(document_id), "attempt": attempts}
    try:
        result = await scanner.scan(store.read(path))
    except ScannerUnavailable as exc:
        if attempts >= settings.scan_attempts:
            # A scanner that answers now, but not for this file (too slow for the
            # timeout, every time), would fail it again once requeued: for good.
            failure = "refused" if await _answers(scanner) else "unreachable"
            log.warning("scan failed: the scanner did not answer %d tries (%s): %s", attempts,
                        failure, exc.message, extra=extra)
            await scans_db.record_failed(db, workspace_id, document_id, path, failure)
            return ScanStatus.FAILED
        delay = _retry_delay(settings, attempts)
        log.info("scanner unreachable (%s); retrying in %.1f s", exc.message, delay,
                 extra=extra)
        await scans_db.retry_later(db, workspace_id, document_id, path, after_seconds=delay)
        return ScanStatus.PENDING
    except ScanRefused as exc:
        log.warning("the scanner refused the file: %s", exc, extra=extra)
        await scans_db.record_failed(db, workspace_id, document_id, path, "refused")
        return ScanStatus.FAILED
    except NotFound:  # the bytes are gone (deleted meanwhile): nothing to scan
        return None
    except Unavailable:  # the object store: this try does not count
        await scans_db.retry_later(db, workspace_id, document_id, path,
                                   after_seconds=STORE_RETRY_SECONDS, give_back=True)
        raise
    if result.signature is not None:
        if await scans_db.record_infected(db, workspace_id, document_id, path,
                                          result.signature):
            log.warning("infected document: %s", result.signature, extra=extra)
            await quarantine(db, store, workspace_id, document_id, path)
        return ScanStatus.INFECTED
    if await scans_db.record_clean(db, workspace_id, document_id, path):
        if jobs is not None:
            texts.start_extraction(jobs, db, store, settings, workspace_id, document_id)
        if has_preview_job(claimed["mime_type"]):
            await process_document_preview(db, store, workspace_id, document_id)
    return ScanStatus.CLEAN


async def _answers(scanner: Scanner) -> bool:
    try:
        await scanner.ping()
    except ScannerUnavailable:
        return False
    return True


async def quarantine(db: Database, store: ObjectStore, workspace_id: uuid.UUID,
                     document_id: uuid.UUID, storage_path: str) -> None:
    """Move an infected document's bytes out of every URL's reach (its deleted key).

    Should the store fail, the bytes stay where they are, still never signed
    for (``downloadable`` is false), and the sweep's purge removes them from
    there after the grace period.
    """
    await store.move(storage_path, deleted_key(workspace_id, document_id))
    await scans_db.mark_quarantined(db, workspace_id, document_id)


async def scan_due(db: Database, store: ObjectStore, scanner: Scanner,
                   settings: Settings, jobs: Jobs | None = None) -> dict[str, int]:
    """One round of the periodic scan work; how many documents each step touched.

    If the scanner answers, documents it failed to reach are queued again;
    then up to ``DUE_BATCH`` due tries are made.
    """
    report = {"requeued": 0, "scanned": 0}
    try:
        await scanner.ping()
    except ScannerUnavailable:
        pass
    else:
        report["requeued"] = await scans_db.requeue_unreachable(db, limit=REQUEUE_BATCH)
    claimed = await scans_db.claim_due_scans(db, lease_seconds=lease_seconds(settings),
                                             limit=DUE_BATCH)
    for row in claimed:
        try:
            await _scan_claimed(db, store, scanner, settings, row, jobs)
        except Unavailable:
            log.warning("scan postponed: object storage is unavailable")
            break
        except Exception:
            log.exception("scan failed", extra={"document_id": str(row["id"])})
        report["scanned"] += 1
    return report


async def purge_infected(db: Database, store: ObjectStore, found_before: Any) -> int:
    """Remove the bytes of infected documents found before ``found_before`` (the
    grace period ago); the rows stay, showing what was found."""
    purged = 0
    while True:
        async with db.transaction() as conn:
            rows = await scans_db.lock_infected_unpurged(conn, found_before, PURGE_BATCH)
            for row in rows:
                for key in keys_to_purge(row["workspace_id"], row["id"], row["storage_path"],
                                         None, moved=False, path_in_use=False):
                    await store.delete(key)
            await scans_db.mark_purged(conn, rows)
        purged += len(rows)
        if len(rows) < PURGE_BATCH:
            return purged


async def scanner_status(db: Database, scanner: Scanner | None,
                         settings: Settings) -> dict[str, Any]:
    """What ``/readyz`` says about scanning: configured or not, answering or not, queue."""
    status: dict[str, Any] = {"required": settings.scan_required}
    if scanner is None:
        status.update(configured=False, state="not_configured",
                      new_documents="pending" if settings.scan_required else "not_scanned")
        return status
    status.update(configured=True, **scanner.describe())
    try:
        status["version"] = await scanner.version()
        status["state"] = "ready"
    except ScannerUnavailable as exc:
        status["state"] = "unreachable"
        status["error"] = exc.message
    try:
        queue = await scans_db.count_queue(db)
        status["pending"] = queue["pending"]
        status["waiting_for_scanner"] = queue["unreachable"]
    except Unavailable:
        pass
    return status
