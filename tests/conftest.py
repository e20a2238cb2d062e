"""Test session fixtures: real services, started here and stopped when done.

The session starts a private PostgreSQL cluster (fsync off) in a temporary
directory, moto's S3 server on a free 127.0.0.1 port (for the s3 storage
backend), and serves the app with uvicorn on a free 127.0.0.1 port (with the
local storage backend). Nothing here ever connects to a server that is not
on this machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import uvicorn

from docgraph.app import create_app
from docgraph.config import Settings
from docgraph.db import workspaces
from docgraph.db.database import Database
from docgraph.db.migrate import migrate
from docgraph.http.paths import STORAGE_PREFIX
from docgraph.http.protocol import HttpProtocol
from docgraph.ops.embedded import EmbeddedPostgres, free_port
from docgraph.resolvers import auth
from docgraph.storage.base import ObjectStore
from docgraph.storage.factory import build_store

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# More fixtures: a GraphQL client per tenant (gql, other_gql), a REST one (api, other_api).
pytest_plugins = ["tests.gql", "tests.rest"]


def assert_local(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOCAL_HOSTS:
        raise RuntimeError(f"refusing to run tests against a non-local server: {host}")


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    # Under /tmp so the postgres user can reach it when the tests run as root.
    with tempfile.TemporaryDirectory(prefix="docgraph-test-") as d:
        os.chmod(d, 0o755)  # noqa: S103 - the postgres user must reach it when run as root
        yield Path(d)


@pytest.fixture(scope="session")
def cluster(tmp_root: Path) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(tmp_root / "pgdata", ephemeral=True)
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


async def create_database(cluster: EmbeddedPostgres, name: str) -> str:
    admin_url = cluster.url("postgres")
    assert_local(admin_url)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'drop database if exists "{name}"')
        await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
    return cluster.url(name)


@pytest.fixture
async def empty_database_url(cluster: EmbeddedPostgres) -> str:
    """A new, empty database (no migrations) for this test."""
    return await create_database(cluster, f"empty_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
async def database_url(cluster: EmbeddedPostgres) -> str:
    """The session's migrated database, shared by the tests; they isolate by workspace."""
    url = await create_database(cluster, "docgraph_test")
    await migrate(url)
    return url


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.connect(database_url, min_size=1, max_size=5)
    try:
        yield database
    finally:
        await database.close()


class LiveServer:
    """The app served by uvicorn in a thread, on a real port."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.app = app
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                                lifespan="on", server_header=False, http=HttpProtocol)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


TEST_SIGNING_SECRET = "test-signing-secret-0123456789abcdef0123456789"
TEST_ADDRESS_RATE_LIMIT = 100_000


@contextlib.contextmanager
def served(settings: Settings, database_url: str) -> Iterator[LiveServer]:
    """The app made from ``settings`` on ``database_url``, served until the block ends."""
    live = LiveServer(create_app(settings, database_url), settings.host, settings.port).start()
    try:
        yield live
    finally:
        live.stop()


def make_settings(tmp_root: Path, **overrides: Any) -> Settings:
    """Test settings: local storage under ``tmp_root/data/objects``, no background sweep,
    no text extraction jobs."""
    port = overrides.pop("port", None) or free_port()
    return Settings.from_env({}, **{"data_dir": tmp_root / "data", "port": port,
                                    "key_cache_seconds": 0.0, "expose_statement_count": True,
                                    "storage_signing_secret": TEST_SIGNING_SECRET,
                                    "sweep_interval_seconds": 0,
                                    # The whole session calls from 127.0.0.1: a per-address
                                    # limit no test reaches unless it sets its own.
                                    "address_rate_limit": TEST_ADDRESS_RATE_LIMIT,
                                    # Every request counted in PostgreSQL (no leases), so a
                                    # request's X-Statement-Count is fixed: the limiter's one,
                                    # the key's lookup, its own. Leases are tested with
                                    # settings of their own (tests/test_rate_limits.py).
                                    "rate_limit_lease": 1,
                                    # No text extraction: what other tests record stays as
                                    # it is (their events, their documents' fields). The
                                    # search tests serve with text_jobs=1.
                                    "text_jobs": 0,
                                    # No webhook deliveries: the tests that want them
                                    # (tests/test_webhooks.py) say so, on a database of
                                    # their own, and nothing is ever sent off this machine.
                                    "webhook_concurrency": 0,
                                    **overrides})


@pytest.fixture(scope="session")
def server(tmp_root: Path, database_url: str) -> Iterator[LiveServer]:
    settings = make_settings(tmp_root)
    with served(settings, database_url) as live:
        yield live


@pytest.fixture(scope="session")
def local_store(server: LiveServer) -> ObjectStore:
    """The live server's own local store: its signed URLs point at ``server``."""
    return server.app.state.store


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 server, a real HTTP server on 127.0.0.1 (it checks no signatures)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    motoserver = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    motoserver.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        motoserver.stop()


def s3_settings(tmp_root: Path, endpoint: str, **overrides: Any) -> Settings:
    return make_settings(tmp_root, **{
        "storage_backend": "s3", "s3_endpoint": endpoint, "s3_secure": False,
        "s3_access_key": "docgraph-test", "s3_secret_key": "docgraph-test-secret",
        "s3_bucket": "docgraph-test", "storage_timeout": 2.0, **overrides})


@pytest.fixture(scope="session")
async def s3_store(tmp_root: Path, moto_server: str) -> AsyncIterator[ObjectStore]:
    store = build_store(s3_settings(tmp_root, moto_server), local_route=STORAGE_PREFIX)
    await store.ready()  # creates the bucket
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(scope="session")
def s3_server(tmp_root: Path, database_url: str, moto_server: str) -> Iterator[LiveServer]:
    """The app with the s3 backend (moto), on the session's database."""
    settings = s3_settings(tmp_root, moto_server)
    with served(settings, database_url) as live:
        yield live


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    """Each backend in turn."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(scope="session")
def clamd(tmp_root: Path) -> Iterator[Any]:
    """One real ClamAV clamd for the session, with our own signatures (tests/clamd.py)."""
    from tests.clamd import available, running

    if not available():
        pytest.skip("clamd is not installed (make test installs Debian's clamav-daemon)")
    with running(tmp_root / "clamd") as daemon:
        yield daemon


@pytest.fixture(scope="session")
def scanning_server(tmp_root: Path, database_url: str, clamd: Any) -> Iterator[LiveServer]:
    """The app with the session's clamd as its scanner, on the session's database."""
    settings = make_settings(tmp_root, clamd_address=clamd.address, scan_poll_seconds=0.2,
                             scan_retry_seconds=0.1, scan_timeout_seconds=10.0)
    with served(settings, database_url) as live:
        yield live


@dataclasses.dataclass
class Tenant:
    """A workspace with a full key, a read-only key and a write-only key."""

    id: uuid.UUID
    key: str
    read_key: str
    write_key: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}


async def make_tenant(db: Database, name: str = "Test workspace", **ws: Any) -> Tenant:
    workspace = await workspaces.create_workspace(db, name, ws.get("quota_bytes"))
    key, _ = await auth.create_key(db, workspace["id"], auth.SCOPES, name="full")
    read_key, _ = await auth.create_key(db, workspace["id"], [auth.READ_DOCUMENTS])
    write_key, _ = await auth.create_key(db, workspace["id"], [auth.WRITE_DOCUMENTS])
    return Tenant(workspace["id"], key, read_key, write_key)


async def key_id(db: Database, key: str) -> uuid.UUID:
    """The id of an API key, from the key itself."""
    found = await db.fetchval("select id from api_keys where key_hash = $1", auth.hash_key(key))
    assert isinstance(found, uuid.UUID)
    return found


@pytest.fixture
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "Tenant A")


@pytest.fixture
async def other_tenant(db: Database) -> Tenant:
    return await make_tenant(db, "Tenant B")


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c
