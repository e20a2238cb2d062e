"""`make bench --webhook`: one webhook endpoint registered for scenario 4, and after it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from docgraph.config import Settings
from docgraph.db.database import Database
from docgraph.ops.embedded import free_port
from docgraph.resolvers import webhooks

SCENARIO = "graphql_create_and_link"
TITLE = "  ... with 1 webhook endpoint (receiver: 204)"
DRAIN_SECONDS = 120.0
PENDING = """
select count(*) filter (where status = 'pending') as pending,
       count(*) filter (where status = 'succeeded') as delivered,
       count(*) filter (where status = 'failed') as failed
from webhook_deliveries where endpoint_id = $1
"""


@contextlib.contextmanager
def receiving() -> Iterator[str]:
    """``bench.receiver`` in a process of its own; its URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.receiver", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/hooks"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.post(url, content=b"{}", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the webhook receiver did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def register(db_url: str, workspace_id: str, url: str) -> uuid.UUID:
    """An endpoint for every event type of the benchmark's workspace."""
    db = await Database.connect(db_url, min_size=1, max_size=1)
    try:
        settings = Settings.from_env({}, webhook_allow_private_addresses=True)
        created = await webhooks.register_endpoint(db, settings, uuid.UUID(workspace_id),
                                                   {"url": url})
        return created.endpoint.id
    finally:
        await db.close()


async def drain(db_url: str, endpoint_id: uuid.UUID) -> dict[str, Any]:
    """Wait until the endpoint has no pending delivery: how many there were, how long."""
    db = await Database.connect(db_url, min_size=1, max_size=1)
    try:
        started = time.monotonic()
        first = await db.fetchrow(PENDING, endpoint_id)
        assert first is not None
        row = first
        while row["pending"] and time.monotonic() - started < DRAIN_SECONDS:
            await asyncio.sleep(0.2)
            row = await db.fetchrow(PENDING, endpoint_id)
            assert row is not None
        return {"pending_at_end": first["pending"], "delivered": row["delivered"],
                "failed": row["failed"], "still_pending": row["pending"],
                "drain_seconds": time.monotonic() - started}
    finally:
        await db.close()


async def unregister(db_url: str, workspace_id: str, endpoint_id: uuid.UUID) -> None:
    """Delete the endpoint (the dataset is reused by later runs)."""
    db = await Database.connect(db_url, min_size=1, max_size=1)
    try:
        await webhooks.remove_endpoint(db, uuid.UUID(workspace_id), endpoint_id)
    finally:
        await db.close()
