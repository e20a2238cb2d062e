"""The text inside documents, for search: extracted in the background, readable on demand.

After a document is recorded, :func:`extract_document_text` runs as a background
job (the ``text`` lane of ``docgraph.jobs.runner``, ``DOCGRAPH_TEXT_JOBS`` at a
time per worker). It claims the document and counts the attempt, copies the
bytes to a temporary file, and runs the extractor
(``resolvers.text_extraction``) in a child process, killed at
``DOCGRAPH_TEXT_TIME_LIMIT_SECONDS``; the outcome (``DONE`` with the text,
``FAILED`` or ``SKIPPED`` with the reason) is recorded on the document. A file
that crashes or hangs the extractor fails that document, never the worker.

A job lost in a crash leaves its document ``PENDING``: :func:`retry_lost_texts`
(every sweep interval, on every instance) starts it again once its claim is
stale, at most ``TEXT_MAX_ATTEMPTS`` times; then the text is ``FAILED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import signal
import sys
import tempfile
import uuid
from typing import TYPE_CHECKING, Any

from docgraph.config import Settings
from docgraph.db import texts as texts_db
from docgraph.db.database import Database
from docgraph.errors import NotFound, Unavailable
from docgraph.resolvers.auth import READ_DOCUMENTS
from docgraph.resolvers.records import DocumentRecord, TextStatus
from docgraph.resolvers.text_extraction import kind_of
from docgraph.storage.base import ObjectStore

if TYPE_CHECKING:
    from docgraph.resolvers.context import Jobs, RequestContext

log = logging.getLogger("docgraph.texts")

TEXT_LANE = "text"
# A job that has not claimed its document this long after it was recorded was lost
# (or waits behind a long queue: another instance may then take it).
TEXT_RETRY_AFTER = dt.timedelta(minutes=10)
# A claim older than the time limit plus this was left by a job that died.
CLAIM_MARGIN = dt.timedelta(minutes=2)
TEXT_MAX_ATTEMPTS = 3
TEXT_RETRY_BATCH = 50
# Jobs a worker keeps waiting for its text lane at most; past that a new document
# stays PENDING and the retry takes it later: a burst of uploads never piles up
# unbounded work (and memory) in one process.
TEXT_QUEUE_MAX = 200
# The extractor's own limit is a little shorter than the parent's, so that it can
# stop recognising pages and hand back what it read before it is killed.
CHILD_MARGIN_SECONDS = 2.0


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    status: TextStatus
    reason: str | None = None
    length: int | None = None


def claim_expiry(settings: Settings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.text_time_limit_seconds) + CLAIM_MARGIN


def start_extraction(jobs: Jobs, db: Database, store: ObjectStore, settings: Settings,
                     workspace_id: uuid.UUID, document_id: uuid.UUID) -> None:
    """Start the document's extraction job (unless this instance runs none, or has
    ``TEXT_QUEUE_MAX`` waiting already: the retry starts it later)."""
    if settings.text_jobs > 0 and jobs.pending(TEXT_LANE) < TEXT_QUEUE_MAX:
        jobs.spawn(f"text {document_id}",
                   extract_document_text(db, store, settings, workspace_id, document_id),
                   lane=TEXT_LANE)


async def extract_document_text(db: Database, store: ObjectStore, settings: Settings,
                                workspace_id: uuid.UUID, document_id: uuid.UUID,
                                ) -> Outcome | None:
    """Extract and record a document's text; None if there was nothing to do (another
    job holds it, it is done, or it was deleted). A storage outage gives the attempt
    back (``Unavailable`` propagates; the retry comes later)."""
    now = dt.datetime.now(dt.UTC)
    claimed = await texts_db.claim_text(db, workspace_id, document_id,
                                        claimed_before=now - claim_expiry(settings))
    if claimed is None:
        return None
    path, mime_type = claimed["storage_path"], claimed["mime_type"]
    outcome: Outcome
    text: str | None = None
    if kind_of(mime_type) is None:
        outcome = Outcome(TextStatus.SKIPPED, f"{mime_type} is not a type docgraph reads "
                                              "text from")
    elif claimed["size_bytes"] > settings.text_max_bytes:
        outcome = Outcome(TextStatus.SKIPPED, f"larger than {settings.text_max_bytes} bytes "
                                              "(DOCGRAPH_TEXT_MAX_BYTES)")
    else:
        try:
            outcome, text = await _extract(store, settings, path, mime_type)
        except Unavailable:
            await texts_db.release_text(db, workspace_id, document_id)
            raise
        except NotFound:  # deleted meanwhile: its bytes moved away
            return None
    if text is not None:
        try:
            recorded = await texts_db.set_text(db, workspace_id, document_id,
                                               storage_path=path, text=text)
        except texts_db.TextTooLong:
            outcome, text = Outcome(TextStatus.FAILED, "the text is too long to index "
                                                       "(lower DOCGRAPH_TEXT_MAX_CHARS)"), None
        else:
            return outcome if recorded else None
    recorded = await texts_db.set_text_outcome(
        db, workspace_id, document_id, storage_path=path, status=outcome.status.value,
        reason=outcome.reason or "")
    if outcome.status is TextStatus.FAILED:
        log.info("text extraction failed", extra={"document_id": str(document_id),
                                                  "reason": outcome.reason})
    return outcome if recorded else None


async def _extract(store: ObjectStore, settings: Settings, path: str,
                   mime_type: str) -> tuple[Outcome, str | None]:
    with tempfile.TemporaryDirectory(prefix="docgraph-text-") as directory:
        file = os.path.join(directory, "document")
        with open(file, "wb") as out:  # noqa: ASYNC230 - each chunk's write is in a thread
            async for chunk in store.read(path):
                await asyncio.to_thread(out.write, chunk)
        arguments = {"mime_type": mime_type, "max_pages": settings.text_max_pages,
                     "max_chars": settings.text_max_chars,
                     "ocr_languages": list(settings.ocr_languages),
                     "seconds": max(1.0, settings.text_time_limit_seconds
                                    - CHILD_MARGIN_SECONDS)}
        result = await run_extractor(arguments, file, settings.text_time_limit_seconds)
    status = result.get("status")
    if status == "done" and isinstance(result.get("text"), str):
        text = str(result["text"])
        return Outcome(TextStatus.DONE, length=len(text)), text
    if status in ("failed", "skipped") and isinstance(result.get("reason"), str):
        return Outcome(TextStatus(status), str(result["reason"])), None
    return Outcome(TextStatus.FAILED, "the extractor gave no answer"), None


async def run_extractor(arguments: dict[str, Any], file: str, seconds: float) -> dict[str, Any]:
    """The extractor's answer for ``file``, run in a child process (and its own process
    group, so that Tesseract goes with it) killed after ``seconds``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "docgraph.resolvers.text_extraction", json.dumps(arguments), file,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=seconds)
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return {"status": "failed",
                "reason": f"took longer than {seconds:g} s (DOCGRAPH_TEXT_TIME_LIMIT_SECONDS)"}
    if process.returncode != 0:
        last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        log.warning("text extractor exited %s: %s", process.returncode, " ".join(last))
        return {"status": "failed",
                "reason": f"the file made the extractor stop (exit status {process.returncode})"}
    try:
        answer = json.loads(stdout)
    except ValueError:
        return {"status": "failed", "reason": "the extractor gave no answer"}
    return answer if isinstance(answer, dict) else {"status": "failed",
                                                     "reason": "the extractor gave no answer"}


async def retry_lost_texts(db: Database, store: ObjectStore, settings: Settings, jobs: Jobs, *,
                           now: dt.datetime | None = None, limit: int = TEXT_RETRY_BATCH,
                           ) -> int:
    """Start again the extraction of documents whose job was lost (a crash, an outage, or
    a queue so long that another instance may as well help): those recorded
    ``TEXT_RETRY_AFTER`` ago and never claimed, or claimed too long ago. After
    ``TEXT_MAX_ATTEMPTS`` the text is ``FAILED``. Returns how many were started."""
    now = now or dt.datetime.now(dt.UTC)
    rows = await texts_db.select_lost_texts(db, created_before=now - TEXT_RETRY_AFTER,
                                            claimed_before=now - claim_expiry(settings),
                                            limit=limit)
    started = 0
    for row in rows:
        if row["infected"]:
            await texts_db.give_up_text(
                db, row["workspace_id"], row["id"], max_attempts=TEXT_MAX_ATTEMPTS,
                reason="the file is infected: its text is not read", status="skipped")
            continue
        if row["text_attempts"] >= TEXT_MAX_ATTEMPTS:
            await texts_db.give_up_text(
                db, row["workspace_id"], row["id"], max_attempts=TEXT_MAX_ATTEMPTS,
                reason=f"the extraction did not finish in {TEXT_MAX_ATTEMPTS} attempts")
            continue
        start_extraction(jobs, db, store, settings, row["workspace_id"], row["id"])
        started += 1
    return started


async def document_text(ctx: RequestContext, document: DocumentRecord) -> str | None:
    """The text extracted from a document, once ``DONE`` (None before, and if none)."""
    ctx.principal.require(READ_DOCUMENTS)
    if document.text_status is not TextStatus.DONE:
        return None
    return await ctx.text_by_document.load(document.id)


async def reindex_workspace(db: Database, workspace_id: uuid.UUID, *,
                            batch: int = 1000) -> int:
    """Index every document of the workspace again, in its current configuration (after
    the configuration changed); returns how many. In batches, each its own statement."""
    after: uuid.UUID | None = None
    total = 0
    while True:
        after, done = await texts_db.reindex_batch(db, workspace_id, after, batch)
        total += done
        if done < batch or after is None:
            return total
