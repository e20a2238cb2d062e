"""The virus-scan queue: pending documents, their tries, and the scans' results.

A pending document is its own queue entry (``scan_status = 'pending'``): a try
is claimed by counting it and moving ``scan_due_at`` ahead by a lease, in one
statement that skips rows another instance holds, so two instances never scan
the same document at once and a try lost to a crash is retried once the lease
ends. Results are recorded only while the document is live, still pending and
still points at the bytes scanned, each with its event (document.scanned).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from docgraph.db.database import Executor
from docgraph.db.documents import DOCUMENT_COLUMNS
from docgraph.db.events import document_event

_CLAIMED = "d.workspace_id, d.id, d.storage_path, d.mime_type, d.scan_attempts"

# One document's try, if it is due or none was made yet ($3: the lease, seconds). A
# new document's first try is held for the instance that recorded it (its due time
# is a lease ahead); the periodic rounds take it only once that lease ended.
CLAIM_SCAN = f"""
update documents d
set scan_attempts = d.scan_attempts + 1,
    scan_due_at = now() + make_interval(secs => $3)
where d.workspace_id = $1 and d.id = $2 and d.scan_status = 'pending'
  and d.deleted_at is null and (d.scan_due_at <= now() or d.scan_attempts = 0)
returning {_CLAIMED}
"""  # noqa: S608 - composed of constants; values are $n parameters
# Up to $2 due tries, oldest first ($1: the lease, seconds).
CLAIM_DUE_SCANS = f"""
update documents d
set scan_attempts = d.scan_attempts + 1,
    scan_due_at = now() + make_interval(secs => $1)
from (select workspace_id, id from documents
      where scan_status = 'pending' and deleted_at is null and scan_due_at <= now()
      order by scan_due_at
      limit $2
      for update skip locked) due
where d.workspace_id = due.workspace_id and d.id = due.id
returning {_CLAIMED}
"""  # noqa: S608 - composed of constants; values are $n parameters
_SCANNED = """
where workspace_id = $1 and id = $2 and storage_path = $3 and scan_status = 'pending'
  and deleted_at is null"""


def _with_event(update: str) -> str:
    """``update`` (a statement on documents, aliased ``d``) and its event:
    document.scanned, by the system, with the document after."""
    return f"""
with scanned as (
    {update}
    returning {DOCUMENT_COLUMNS}
), event as (
    {document_event("scanned", "'document.scanned'", "'system'")}
)
select id from scanned
"""  # noqa: S608 - composed of constants; values are $n parameters


_SCANNED_D = """
where d.workspace_id = $1 and d.id = $2 and d.storage_path = $3
  and d.scan_status = 'pending' and d.deleted_at is null"""
RECORD_CLEAN = _with_event(f"""update documents as d
    set scan_status = 'clean', scanned_at = now(), scan_due_at = null
    {_SCANNED_D}""")  # noqa: S608 - composed of constants; values are $n parameters
# Infected: its bytes are moved out of every URL's reach (bytes_moved_at, as a
# deletion's), and there is nothing to preview.
RECORD_INFECTED = _with_event(f"""update documents as d
    set scan_status = 'infected', scan_signature = $4, scanned_at = now(),
        scan_due_at = null, image_checked_at = coalesce(d.image_checked_at, now())
    {_SCANNED_D}""")  # noqa: S608 - composed of constants; values are $n parameters
MARK_QUARANTINED = """
update documents set bytes_moved_at = now()
where workspace_id = $1 and id = $2 and scan_status = 'infected' and bytes_moved_at is null
"""
RECORD_FAILED = _with_event(f"""update documents as d
    set scan_status = 'failed', scan_failure = $4, scanned_at = now(), scan_due_at = null
    {_SCANNED_D}""")  # noqa: S608 - composed of constants; values are $n parameters
# Try again after $4 seconds (the try just made failed: the scanner did not answer).
RETRY_LATER = f"""
update documents set scan_due_at = now() + make_interval(secs => $4)
{_SCANNED}
"""  # noqa: S608 - composed of constants; values are $n parameters
# A try that could not be made (the object store did not answer): given back.
GIVE_BACK = f"""
update documents set scan_attempts = greatest(scan_attempts - 1, 0),
                     scan_due_at = now() + make_interval(secs => $4)
{_SCANNED}
"""  # noqa: S608 - composed of constants; values are $n parameters
# The scanner answers again: documents it could not scan are queued anew, up to $1.
REQUEUE_UNREACHABLE = """
update documents d
set scan_status = 'pending', scan_failure = null, scanned_at = null, scan_attempts = 0,
    scan_due_at = now()
from (select workspace_id, id from documents
      where scan_status = 'failed' and scan_failure = 'unreachable' and deleted_at is null
      order by scanned_at
      limit $1
      for update skip locked) failed
where d.workspace_id = failed.workspace_id and d.id = failed.id
"""
# Infected documents found before $1 whose bytes are still kept, locked.
LOCK_INFECTED_UNPURGED = """
select workspace_id, id, storage_path from documents
where scan_status = 'infected' and bytes_purged_at is null and deleted_at is null
  and scanned_at < $1
order by scanned_at
limit $2
for update skip locked
"""
MARK_PURGED = """
update documents d set bytes_purged_at = now()
from unnest($1::uuid[], $2::uuid[]) as gone (workspace_id, id)
where d.workspace_id = gone.workspace_id and d.id = gone.id
"""
# Each count is read from its partial index, and stops at $1 (a health check must
# stay cheap however long the queue).
COUNT_QUEUE = """
select (select count(*) from (select 1 from documents
                              where scan_status = 'pending' and deleted_at is null
                              limit $1) p) as pending,
       (select count(*) from (select 1 from documents
                              where scan_status = 'failed' and scan_failure = 'unreachable'
                                and deleted_at is null
                              limit $1) u) as unreachable
"""


async def claim_scan(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID, *,
                     lease_seconds: float) -> Mapping[str, Any] | None:
    """Count a try at this document's scan and hold it, if it is pending and due (or
    its first try, which its recording instance holds, was not made yet)."""
    return await db.fetchrow(CLAIM_SCAN, workspace_id, document_id, float(lease_seconds))


async def claim_due_scans(db: Executor, *, lease_seconds: float,
                          limit: int) -> list[Mapping[str, Any]]:
    """Count and hold a try at up to ``limit`` due scans (others' held ones skipped)."""
    return list(await db.fetch(CLAIM_DUE_SCANS, float(lease_seconds), limit))


async def record_clean(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID,
                       storage_path: str) -> bool:
    return await db.fetchrow(RECORD_CLEAN, workspace_id, document_id, storage_path) is not None


async def record_infected(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID,
                          storage_path: str, signature: str) -> bool:
    row = await db.fetchrow(RECORD_INFECTED, workspace_id, document_id, storage_path,
                            signature)
    return row is not None


async def mark_quarantined(db: Executor, workspace_id: uuid.UUID,
                           document_id: uuid.UUID) -> None:
    await db.execute(MARK_QUARANTINED, workspace_id, document_id)


async def record_failed(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID,
                        storage_path: str, failure: str) -> bool:
    row = await db.fetchrow(RECORD_FAILED, workspace_id, document_id, storage_path, failure)
    return row is not None


async def retry_later(db: Executor, workspace_id: uuid.UUID, document_id: uuid.UUID,
                      storage_path: str, *, after_seconds: float,
                      give_back: bool = False) -> None:
    """The next try in ``after_seconds``; ``give_back``: this one does not count."""
    await db.execute(GIVE_BACK if give_back else RETRY_LATER, workspace_id, document_id,
                     storage_path, float(after_seconds))


async def requeue_unreachable(db: Executor, *, limit: int) -> int:
    """Queue again up to ``limit`` documents whose scan failed for want of a scanner."""
    status = await db.execute(REQUEUE_UNREACHABLE, limit)
    return int(status.split()[-1])


async def lock_infected_unpurged(db: Executor, found_before: dt.datetime,
                                 limit: int) -> list[Mapping[str, Any]]:
    return list(await db.fetch(LOCK_INFECTED_UNPURGED, found_before, limit))


async def mark_purged(db: Executor, rows: list[Mapping[str, Any]]) -> None:
    await db.execute(MARK_PURGED, [r["workspace_id"] for r in rows], [r["id"] for r in rows])


async def count_queue(db: Executor, *, up_to: int = 10_000) -> Mapping[str, Any]:
    """How many documents wait for a scan, and how many for the scanner to answer
    (each counted up to ``up_to``)."""
    row = await db.fetchrow(COUNT_QUEUE, up_to)
    assert row is not None
    return row
