"""Who makes a pending document's scan tries (``db.scans``), on a database of its own.

The first try belongs to the instance that recorded the document: another
instance's periodic round (which may run no text jobs, so the text would wait
for the retry) takes it only once that try's lease has ended. A document
recorded by an instance without a scanner (scanning mandatory) is due at once,
for the instances that have one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from docgraph.db import documents as documents_db
from docgraph.db import scans as scans_db
from docgraph.db.database import Database

from .conftest import make_tenant
from .instances import fresh_database

LEASE = 60.0


@pytest.fixture
async def own_db(cluster) -> AsyncIterator[tuple[Database, Any]]:
    """No other test's pending documents: a round here claims only this test's."""
    database = await Database.connect(await fresh_database(cluster, "claims"),
                                      min_size=1, max_size=2)
    try:
        yield database, await make_tenant(database)
    finally:
        await database.close()


async def recorded(db: Database, workspace_id: uuid.UUID, *, first_lease: float) -> uuid.UUID:
    """A pending document recorded with createDocument's statement."""
    path = f"workspaces/{workspace_id}/uploads/{uuid.uuid4()}"
    await db.execute("insert into uploads (workspace_id, id, storage_path, size_bytes, "
                     "mime_type, file_name, expires_at) values ($1, gen_random_uuid(), $2, 3, "
                     "'text/plain', 'a.txt', now() + interval '1 hour')", workspace_id, path)
    row = await documents_db.insert_uploaded_document(
        db, workspace_id, uuid.uuid4(), name="a.txt", description=None,
        mime_type="text/plain", size_bytes=3, storage_path=path, folder=None, tags=[],
        type="other", user_data={}, created_by=None, scan_status="pending",
        first_scan_lease_seconds=first_lease, actor="system")
    assert row is not None
    return uuid.UUID(str(row["id"]))


async def test_the_first_try_is_the_recording_instances(own_db):
    db, tenant = own_db
    document_id = await recorded(db, tenant.id, first_lease=LEASE)
    # Another instance's round, right after the recording: nothing due.
    assert await scans_db.claim_due_scans(db, lease_seconds=LEASE, limit=100) == []
    claimed = await scans_db.claim_scan(db, tenant.id, document_id, lease_seconds=LEASE)
    assert claimed is not None
    assert (claimed["id"], claimed["scan_attempts"]) == (document_id, 1)
    # Held: neither a second claim nor a round takes it while the try runs.
    assert await scans_db.claim_scan(db, tenant.id, document_id, lease_seconds=LEASE) is None
    assert await scans_db.claim_due_scans(db, lease_seconds=LEASE, limit=100) == []


async def test_a_lost_first_try_is_taken_by_a_round_once_its_lease_ends(own_db):
    db, tenant = own_db
    document_id = await recorded(db, tenant.id, first_lease=LEASE)
    # The recording instance crashed before its try: the lease runs out.
    await db.execute("update documents set scan_due_at = now() - interval '1 second' "
                     "where workspace_id = $1 and id = $2", tenant.id, document_id)
    taken = await scans_db.claim_due_scans(db, lease_seconds=LEASE, limit=100)
    assert [(row["id"], row["scan_attempts"]) for row in taken] == [(document_id, 1)]
    # The late first try finds it held by the round.
    assert await scans_db.claim_scan(db, tenant.id, document_id, lease_seconds=LEASE) is None


async def test_without_a_scanner_the_recording_instance_leaves_it_due_at_once(own_db):
    db, tenant = own_db
    document_id = await recorded(db, tenant.id, first_lease=0.0)
    taken = await scans_db.claim_due_scans(db, lease_seconds=LEASE, limit=100)
    assert [row["id"] for row in taken] == [document_id]
    due = await db.fetchval("select scan_due_at > now() from documents "
                            "where workspace_id = $1 and id = $2", tenant.id, document_id)
    assert due is True  # held for the round's own lease now
