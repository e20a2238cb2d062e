"""docgraph servers for tests that need their own settings or several instances.

``serving`` runs the app in a thread of this process (fast, any settings).
``Instance`` runs ``python -m docgraph serve`` as a real separate process,
as a deployment does: two of them on one database are two instances behind
a load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from docgraph.db.migrate import migrate
from docgraph.ops.embedded import EmbeddedPostgres, free_port
from tests.conftest import (
    TEST_SIGNING_SECRET,
    LiveServer,
    assert_local,
    create_database,
    make_settings,
    served,
)


@contextlib.contextmanager
def serving(tmp_root: Path, database_url: str, **overrides: Any) -> Iterator[LiveServer]:
    """The app with ``overrides`` applied to the test settings, served in a thread."""
    settings = make_settings(tmp_root, **overrides)
    with served(settings, database_url) as live:
        yield live


async def fresh_database(cluster: EmbeddedPostgres, prefix: str) -> str:
    """A new migrated database: state (rate-limit windows…) no other test shares."""
    url = await create_database(cluster, f"{prefix}_{uuid.uuid4().hex[:10]}")
    await migrate(url)
    return url


class Instance:
    """One ``docgraph serve`` process on a free port."""

    def __init__(self, database_url: str, log_dir: Path, **env: str) -> None:
        assert_local(database_url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("DOCGRAPH_")}
        self.env = {
            **base,
            "DOCGRAPH_DATABASE_URL": database_url,
            "DOCGRAPH_HOST": "127.0.0.1",
            "DOCGRAPH_PORT": str(self.port),
            "DOCGRAPH_DATA_DIR": str(log_dir / f"data-{self.port}"),
            # Instances of one deployment share the object store and its secret.
            "DOCGRAPH_STORAGE_ROOT": str(log_dir / "shared-objects"),
            "DOCGRAPH_STORAGE_SIGNING_SECRET": TEST_SIGNING_SECRET,
            "DOCGRAPH_SWEEP_INTERVAL_SECONDS": "0",
            "DOCGRAPH_EXPOSE_STATEMENT_COUNT": "true",
            "DOCGRAPH_ACCESS_LOG": "false",
            "DOCGRAPH_LOG_LEVEL": "warning",
            # No webhook deliveries unless a test asks (see make_settings).
            "DOCGRAPH_WEBHOOK_CONCURRENCY": "0",
            **env,
        }
        self.log_path = log_dir / f"instance-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> Instance:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "docgraph", "serve"], env=self.env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def start(self, timeout: float = 60) -> Instance:
        return self.launch().wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> Instance:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"instance exited ({self.process.returncode}):\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"instance did not start:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """Die at once, as a crashed machine would (SIGKILL: nothing is cleaned up)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@contextlib.contextmanager
def instances(database_url: str, log_dir: Path, count: int = 2,
              **env: str) -> Iterator[list[Instance]]:
    """``count`` instances on one database, stopped on exit."""
    started: list[Instance] = []
    try:
        for _ in range(count):
            started.append(Instance(database_url, log_dir, **env).launch())
        for instance in started:
            instance.wait_ready()
        yield started
    finally:
        for instance in started:
            instance.stop()


async def waiting_on_a_lock(url):
    """Return once a docgraph statement waits on a lock."""
    conn = await asyncpg.connect(url)
    try:
        for _ in range(1000):
            if await conn.fetchval(
                    "select count(*) from pg_stat_activity where application_name = "
                    "'docgraph' and wait_event_type = 'Lock'"):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("no docgraph statement waits on the lock")
    finally:
        await conn.close()
