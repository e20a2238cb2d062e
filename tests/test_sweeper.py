"""The storage sweep: orphaned uploads and deleted documents lose their bytes, recorded
and fresh ones keep them; one instance sweeps at a time; storage failures lose nothing."""

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx
import pytest

from docgraph.app import create_app
from docgraph.db import uploads as uploads_db
from docgraph.db.locks import SWEEP_LOCK_KEY
from docgraph.errors import Unavailable
from docgraph.http.paths import STORAGE_PREFIX
from docgraph.ops.embedded import free_port
from docgraph.resolvers.auth import SCOPES, Principal
from docgraph.resolvers.sweeper import sweep, sweep_unreferenced_objects
from docgraph.resolvers.uploads import request_upload
from docgraph.storage.factory import build_store
from docgraph.storage.keys import deleted_key
from tests.test_uploads import record

from .conftest import LiveServer, make_settings, s3_settings

DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)


def principal_of(tenant) -> Principal:
    return Principal(workspace_id=tenant.id, key_id=uuid.uuid4(), scopes=frozenset(SCOPES))


async def uploaded(db, store, tenant, body: bytes | None = b"bytes"):
    """A pending upload; its bytes PUT unless ``body`` is None."""
    ticket = await request_upload(db, store, principal_of(tenant), file_name="f.txt",
                                  mime_type="text/plain", size_bytes=len(body or b"x"))
    if body is not None:
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.put(ticket.upload_url, content=body, headers=ticket.headers)
        assert r.status_code == 200, r.text
    return ticket.storage_path


async def backdate_upload(db, key: str, age: dt.timedelta, expired: dt.timedelta | None = None):
    await db.execute("update uploads set created_at = now() - $2::interval, "
                     "expires_at = now() - $3::interval where storage_path = $1",
                     key, age, expired if expired is not None else age)


async def pending(db, key: str):
    return await db.fetchrow("select arrived_at from uploads where storage_path = $1", key)


async def test_orphaned_uploads_lose_their_bytes_recorded_and_fresh_ones_keep_them(db, store,
                                                                                 tenant):
    orphan = await uploaded(db, store, tenant)
    never_uploaded = await uploaded(db, store, tenant, body=None)
    fresh = await uploaded(db, store, tenant)
    recorded = await uploaded(db, store, tenant)
    document = await record(db, tenant, recorded, 5)
    await db.execute("update documents set created_at = now() - interval '3 days' "
                     "where workspace_id = $1 and id = $2", tenant.id, document["id"])
    for key in (orphan, never_uploaded):
        await backdate_upload(db, key, 2 * DAY)

    report = await sweep(db, store, orphan_after=DAY, delete_grace=WEEK)

    assert not report.skipped
    assert report.orphan_uploads >= 2
    assert await store.stat(orphan) is None
    assert await pending(db, orphan) is None and await pending(db, never_uploaded) is None
    assert await store.stat(fresh) is not None and await pending(db, fresh) is not None
    assert await store.stat(recorded) is not None


async def test_expired_uploads_whose_bytes_never_came_free_their_quota(db, store, tenant):
    never = await uploaded(db, store, tenant, body=None)
    arrived = await uploaded(db, store, tenant)
    just_expired = await uploaded(db, store, tenant, body=None)
    for key in (never, arrived):
        await backdate_upload(db, key, dt.timedelta(hours=3), expired=dt.timedelta(hours=2))
    await backdate_upload(db, just_expired, dt.timedelta(minutes=30),
                          expired=dt.timedelta(minutes=10))
    pending_before = (await uploads_db.get_usage(db, tenant.id))["pending_bytes"]
    assert pending_before == await db.fetchval(
        "select sum(size_bytes) from uploads where workspace_id = $1", tenant.id)

    report = await sweep(db, store, orphan_after=DAY, delete_grace=WEEK)

    assert report.forgotten_uploads >= 1
    assert await pending(db, never) is None
    assert (await pending(db, arrived))["arrived_at"] is not None  # noted; still pending
    assert await store.stat(arrived) is not None
    assert (await pending(db, just_expired))["arrived_at"] is None  # may still be arriving
    # The forgotten upload of 1 byte no longer counts toward the quota.
    assert (await uploads_db.get_usage(db, tenant.id))["pending_bytes"] == pending_before - 1


INSERT_DOCUMENT = """
insert into documents (workspace_id, id, name, mime_type, size_bytes, storage_path,
                       preview_path, preview_width, preview_height, deleted_at)
values ($1, $2, 'd', 'image/png', 5, $3, $4, 10, 10, $5)
"""


async def document_with_bytes(db, store, tenant, deleted_ago: dt.timedelta | None,
                              storage_path: str | None = None):
    document_id = uuid.uuid4()
    key = storage_path or f"workspaces/{tenant.id}/uploads/{uuid.uuid4().hex}.png"
    preview = f"{key}.preview.jpg"
    await store.write(key, b"image", content_type="image/png")
    await store.write(preview, b"small", content_type="image/jpeg")
    deleted_at = dt.datetime.now(dt.UTC) - deleted_ago if deleted_ago else None
    await db.execute(INSERT_DOCUMENT, tenant.id, document_id, key, preview, deleted_at)
    return document_id, key, preview


async def test_deleted_documents_lose_their_bytes_after_the_grace_period(db, store, tenant):
    old_id, old_key, old_preview = await document_with_bytes(db, store, tenant, 8 * DAY)
    entity = uuid.uuid4()
    await db.execute("insert into entities (workspace_id, id, entity_type, name) "
                     "values ($1, $2, 'contact', 'Ann')", tenant.id, entity)
    await db.execute("insert into links (workspace_id, id, document_id, entity_type, entity_id) "
                     "values ($1, $2, $3, 'contact', $4)", tenant.id, uuid.uuid4(), old_id,
                     entity)
    recent_id, recent_key, recent_preview = await document_with_bytes(db, store, tenant, DAY)
    live_id, live_key, _ = await document_with_bytes(db, store, tenant, None)

    report = await sweep(db, store, orphan_after=DAY, delete_grace=WEEK)

    assert report.purged_documents >= 1
    assert await store.stat(old_key) is None and await store.stat(old_preview) is None
    assert await store.stat(deleted_key(tenant.id, old_id)) is None
    assert await store.stat(deleted_key(tenant.id, old_id, preview=True)) is None
    assert await db.fetchval("select count(*) from documents where id = $1", old_id) == 0
    assert await db.fetchval("select count(*) from links where document_id = $1", old_id) == 0
    # A deletion within its grace period keeps its bytes, out of its old URLs' reach
    # (recorded here without the move a deletion makes: the sweep finishes it).
    assert await store.stat(recent_key) is None and await store.stat(recent_preview) is None
    assert await store.stat(deleted_key(tenant.id, recent_id)) is not None
    assert await store.stat(deleted_key(tenant.id, recent_id, preview=True)) is not None
    assert await store.stat(live_key) is not None
    assert await db.fetchval("select count(*) from documents where id = any($1)",
                             [recent_id, live_id]) == 2


async def test_bytes_a_live_document_still_uses_are_kept(db, local_store, tenant):
    live_id, key, preview = await document_with_bytes(db, local_store, tenant, None)
    await db.execute("update documents set deleted_at = now() - interval '8 days' "
                     "where id = $1", live_id)
    await document_with_bytes(db, local_store, tenant, None, storage_path=key)
    await sweep(db, local_store, orphan_after=DAY, delete_grace=WEEK)
    assert await db.fetchval("select count(*) from documents where id = $1", live_id) == 0
    assert await local_store.stat(key) is not None
    assert await local_store.stat(preview) is not None


async def test_unreferenced_objects_are_found_by_listing(db, store, tenant):
    prefix = f"workspaces/{tenant.id}/"
    stray = f"{prefix}uploads/{uuid.uuid4().hex}.jpg.preview.jpg"
    await store.write(stray, b"stray", content_type="image/jpeg")
    _, key, preview = await document_with_bytes(db, store, tenant, None)
    upload = await uploaded(db, store, tenant)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)

    assert await sweep_unreferenced_objects(db, store, later, prefix=prefix) == 1

    assert await store.stat(stray) is None
    for kept in (key, preview, upload):
        assert await store.stat(kept) is not None
    # With the real cutoff, fresh objects are never candidates.
    await store.write(stray, b"stray", content_type="image/jpeg")
    report = await sweep(db, store, orphan_after=DAY, delete_grace=WEEK, deep=True)
    assert not report.skipped
    assert await store.stat(stray) is not None


async def test_one_instance_sweeps_at_a_time(db, database_url, local_store, tenant):
    orphan = await uploaded(db, local_store, tenant)
    await backdate_upload(db, orphan, 2 * DAY)
    other_instance = await asyncpg.connect(database_url)
    try:
        assert await other_instance.fetchval("select pg_try_advisory_lock($1)", SWEEP_LOCK_KEY)
        report = await sweep(db, local_store, orphan_after=DAY, delete_grace=WEEK)
        assert report.skipped
        assert await local_store.stat(orphan) is not None
        await other_instance.execute("select pg_advisory_unlock($1)", SWEEP_LOCK_KEY)
    finally:
        await other_instance.close()
    report = await sweep(db, local_store, orphan_after=DAY, delete_grace=WEEK)
    assert not report.skipped
    assert await local_store.stat(orphan) is None


async def test_storage_down_during_a_sweep_loses_nothing(db, tmp_root, local_store, tenant):
    orphan = await uploaded(db, local_store, tenant)
    await backdate_upload(db, orphan, 2 * DAY)
    down = build_store(s3_settings(tmp_root, f"127.0.0.1:{free_port()}", storage_timeout=0.5),
        local_route=STORAGE_PREFIX)
    try:
        with pytest.raises(Unavailable):
            await sweep(db, down, orphan_after=DAY, delete_grace=WEEK)
    finally:
        await down.close()
    assert await pending(db, orphan) is not None  # the row waits for the next sweep
    report = await sweep(db, local_store, orphan_after=DAY, delete_grace=WEEK)
    assert report.orphan_uploads >= 1
    assert await pending(db, orphan) is None


async def test_leftovers_of_interrupted_uploads_are_removed(db, local_store, tenant):
    directory = os.path.join(local_store.root, "workspaces", str(tenant.id), "uploads")
    os.makedirs(directory, exist_ok=True)
    stale = os.path.join(directory, ".abc.pdf-x1.tmp")
    fresh = os.path.join(directory, ".def.pdf-x2.tmp")
    for path in (stale, fresh):
        with open(path, "wb") as f:  # noqa: ASYNC230 - a test fixture file
            f.write(b"half")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    report = await sweep(db, local_store, orphan_after=DAY, delete_grace=WEEK)
    assert report.incomplete_uploads >= 1
    assert await asyncio.to_thread(os.path.exists, stale) is False
    assert await asyncio.to_thread(os.path.exists, fresh) is True


async def test_the_app_sweeps_in_the_background(db, tmp_root, database_url, tenant):
    settings = make_settings(tmp_root, storage_root=tmp_root / "background-objects",
                             sweep_interval_seconds=1, upload_url_seconds=1,
                             orphan_upload_seconds=2)
    live = LiveServer(create_app(settings, database_url), settings.host, settings.port).start()
    try:
        store = live.app.state.store
        orphan = await uploaded(db, store, tenant, body=None)
        await store.write(orphan, b"x", content_type="text/plain")
        await backdate_upload(db, orphan, 2 * DAY)
        for _ in range(300):  # the task wakes every 0.8-1.2 s
            if await pending(db, orphan) is None:
                break
            await asyncio.sleep(0.05)
        assert await pending(db, orphan) is None
        assert await store.stat(orphan) is None
    finally:
        live.stop()


async def test_docgraph_sweep_command(db, database_url, tmp_root, tenant):
    data_dir = tmp_root / "cli-sweep"
    store = build_store(make_settings(tmp_root, data_dir=data_dir), local_route=STORAGE_PREFIX)
    orphan = await uploaded(db, store, tenant, body=None)
    await store.write(orphan, b"bytes", content_type="text/plain")
    await backdate_upload(db, orphan, 2 * DAY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCGRAPH_")}
    env.update({"DOCGRAPH_DATABASE_URL": database_url, "DOCGRAPH_DATA_DIR": str(data_dir)})
    r = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "docgraph", "sweep", "--deep"],
        capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "orphan uploads removed" in r.stdout
    assert "unreferenced objects removed" in r.stdout
    assert await store.stat(orphan) is None
    assert await pending(db, orphan) is None
