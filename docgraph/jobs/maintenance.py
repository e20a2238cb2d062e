"""The app's periodic housekeeping: purging expired shared state and old events,
sweeping storage, scans, retrying lost text extractions, and webhook deliveries
(``jobs.webhooks``).

Each instance runs them on its own schedule, jittered so instances drift
apart. The purge is harmless on several instances at once; the sweep runs
on one instance at a time (an advisory lock, see ``resolvers.sweeper``); a
text extraction is claimed by the one job that runs it (``resolvers.texts``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator

from docgraph.errors import AppError, Unavailable
from docgraph.jobs.runner import JobObserver, observed
from docgraph.jobs.webhooks import WebhookWorker
from docgraph.resolvers.context import Services
from docgraph.resolvers.maintenance import prepare_storage, purge_expired
from docgraph.resolvers.scans import scan_due
from docgraph.resolvers.sweeper import sweep_with
from docgraph.resolvers.texts import TEXT_LANE, TEXT_RETRY_BATCH, retry_lost_texts

log = logging.getLogger("docgraph.jobs.maintenance")

READY_RETRY_SECONDS = 5.0


async def purge_periodically(services: Services, observer: JobObserver | None = None) -> None:
    """Every ``DOCGRAPH_PURGE_INTERVAL_SECONDS`` (±50 %): delete expired shared state and
    the events older than ``DOCGRAPH_EVENT_RETENTION_DAYS``."""
    interval = services.settings.purge_interval_seconds
    while True:
        await asyncio.sleep(interval * random.uniform(0.5, 1.5))  # noqa: S311
        try:
            with observed(observer, "purge"):
                purged = await purge_expired(
                    services.db, event_retention_days=services.settings.event_retention_days,
                    persisted_operations_seconds=services.settings.graphql_apq_retention_seconds)
        except Unavailable:
            log.warning("purge skipped: the database is unavailable")
            continue
        except Exception:
            log.exception("purge failed")
            continue
        if any(purged.values()):
            log.info("purged expired shared state", extra={"purged": purged})


async def maintain_storage(services: Services, observer: JobObserver | None = None) -> None:
    """Get the store ready, then sweep periodically.

    Readiness (creating the bucket) is retried until it succeeds, so the app
    starts even while storage is down. Sweeps run every
    ``DOCGRAPH_SWEEP_INTERVAL_SECONDS`` (±20 %, so instances spread out); the
    deep one at most once per ``DOCGRAPH_ORPHAN_UPLOAD_SECONDS``.
    """
    settings = services.settings
    while True:
        try:
            await prepare_storage(services.store)
            break
        except AppError as exc:
            log.warning("object storage is not ready: %s; retrying", exc.message)
            await asyncio.sleep(READY_RETRY_SECONDS)
    interval = settings.sweep_interval_seconds
    if interval <= 0:
        return
    last_deep: float | None = None
    while True:
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
        deep = last_deep is None or time.monotonic() - last_deep >= settings.orphan_upload_seconds
        try:
            with observed(observer, "sweep"):
                report = await sweep_with(services.db, services.store, settings, deep=deep)
        except AppError as exc:
            log.warning("storage sweep failed: %s: %s", exc.code, exc.message)
            continue
        except Exception:
            log.exception("storage sweep failed")
            continue
        if observer is not None and report.retried_images:
            observer.retried("preview", report.retried_images)
        if deep and not report.skipped:
            last_deep = time.monotonic()
        if report.total():
            log.info("storage sweep", extra=dataclasses.asdict(report))


async def scan_periodically(services: Services, observer: JobObserver | None = None) -> None:
    """Every ``DOCGRAPH_SCAN_POLL_SECONDS`` (±20 %): scans due (retries, tries lost to a
    crash), and documents queued again once the scanner answers (``scans.scan_due``)."""
    scanner = services.scanner
    assert scanner is not None
    interval = services.settings.scan_poll_seconds
    while True:
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
        try:
            with observed(observer, "scan-round"):
                report = await scan_due(services.db, services.store, scanner,
                                        services.settings, services.jobs)
        except AppError as exc:
            log.warning("scan round failed: %s: %s", exc.code, exc.message)
            continue
        except Exception:
            log.exception("scan round failed")
            continue
        if observer is not None and report["scanned"]:
            # Tries due again: after the scanner did not answer, or lost to a crash.
            observer.retried("scan", report["scanned"])
        if any(report.values()):
            log.info("scans", extra=report)
# While a retry finds a full batch (a backlog: documents recorded before search
# existed, or a burst), the next one comes after this rather than the interval.
TEXT_BACKLOG_PAUSE_SECONDS = 5.0


async def retry_texts_periodically(services: Services,
                                   observer: JobObserver | None = None) -> None:
    """Every ``DOCGRAPH_SWEEP_INTERVAL_SECONDS`` (±20 %): start again the text extractions
    that were lost, while this instance's own queue of them is short (``0`` or no text
    jobs: never). A full batch means a backlog: the next batch follows as soon as the
    queue is short again."""
    settings = services.settings
    interval = settings.sweep_interval_seconds
    if interval <= 0 or settings.text_jobs <= 0:
        return
    backlog = False
    while True:
        pause = TEXT_BACKLOG_PAUSE_SECONDS if backlog else interval
        await asyncio.sleep(pause * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
        if services.jobs.pending(TEXT_LANE) > settings.text_jobs:
            continue
        try:
            started = await retry_lost_texts(services.db, services.store, settings,
                                             services.jobs)
        except Unavailable:
            log.warning("text retry skipped: the database is unavailable")
            continue
        except Exception:
            log.exception("text retry failed")
            continue
        backlog = started >= TEXT_RETRY_BATCH
        if started:
            log.info("text extractions retried", extra={"started": started})
            if observer is not None:
                observer.retried("text", started)


@contextlib.asynccontextmanager
async def housekeeping(services: Services,
                       observer: JobObserver | None = None) -> AsyncIterator[None]:
    """The loops as tasks for the block's duration (the app's lifespan); scans only
    with a scanner. Each round of the purge, the sweep and the scans is a job for
    ``observer`` (kinds ``purge``, ``sweep``, ``scan-round``), and tries made again are
    its retries. Webhook deliveries run unless ``DOCGRAPH_WEBHOOK_CONCURRENCY`` is 0."""
    tasks = [asyncio.create_task(purge_periodically(services, observer), name="purge-expired"),
             asyncio.create_task(maintain_storage(services, observer),
                                 name="storage-maintenance"),
             asyncio.create_task(retry_texts_periodically(services, observer),
                                 name="text-retry")]
    if services.scanner is not None:
        tasks.append(asyncio.create_task(scan_periodically(services, observer), name="scans"))
    if services.settings.webhook_concurrency > 0:
        tasks.append(asyncio.create_task(WebhookWorker(services).run(), name="webhooks"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
