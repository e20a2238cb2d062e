"""The embedded cluster and `docgraph dev`, which is what `make run` runs."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from docgraph.config import Settings
from docgraph.ops.embedded import EmbeddedPostgres, free_port

from .conftest import LiveServer, make_settings


async def test_cluster_restarts_on_the_same_data_directory(tmp_root):
    pg = EmbeddedPostgres(tmp_root / "restart-pgdata", ephemeral=True)
    try:
        url = pg.start()
        conn = await asyncpg.connect(url)
        await conn.execute("create table kept (v text); insert into kept values ('still here')")
        await conn.close()
        pg.stop()
        assert pg.running_port() is None
        url = pg.start()
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("select v from kept") == "still here"
        await conn.close()
    finally:
        pg.destroy()


async def test_readyz_answers_503_while_the_database_is_down(tmp_root):
    pg = EmbeddedPostgres(tmp_root / "readyz-pgdata", ephemeral=True)
    pg.start()
    from docgraph.app import create_app

    settings = make_settings(tmp_root, db_acquire_timeout=0.5, db_pool_min=0)
    live = LiveServer(create_app(settings, pg.url()), settings.host, settings.port).start()
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
            assert (await client.get("/readyz")).status_code == 200
            pg.stop("immediate")
            r = await client.get("/readyz")
            assert r.status_code == 503
            assert r.headers["retry-after"] == "2"
            assert (await client.get("/healthz")).status_code == 200
            pg.start(port=pg.port)
            for _ in range(100):  # the pool reconnects by itself
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert (await client.get("/readyz")).status_code == 200
    finally:
        live.stop()
        pg.destroy()


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"docgraph dev exited: {proc.stderr.read()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("docgraph dev did not become ready")


def run_dev(data_dir: Path, port: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if k != "DOCGRAPH_DATABASE_URL"}
    env.update({"DOCGRAPH_DATA_DIR": str(data_dir), "DOCGRAPH_PORT": str(port)})
    proc = subprocess.Popen([sys.executable, "-m", "docgraph", "dev"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc)
    return proc, url


def stop_dev(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return err


def test_dev_serves_prints_a_working_key_and_reuses_it(tmp_root):
    data_dir = tmp_root / "dev-data"
    proc, url = run_dev(data_dir, free_port())
    try:
        key = (data_dir / "dev-api-key").read_text().strip()
        assert oct((data_dir / "dev-api-key").stat().st_mode & 0o777) == "0o600"
        r = httpx.get(f"{url}/v1/workspace", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
    finally:
        err = stop_dev(proc)
    assert f"Development key: {key}  (new)" in err
    assert proc.returncode in (0, 130)  # 130: the conventional exit status after Ctrl-C
    cluster = EmbeddedPostgres(data_dir / "pgdata")
    assert cluster.running_port() is None, "Ctrl-C left PostgreSQL running"

    proc, url = run_dev(data_dir, free_port())
    try:
        r = httpx.get(f"{url}/v1/workspace", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
    finally:
        err = stop_dev(proc)
    assert f"Development key: {key}\n" in err


def test_dev_takes_over_a_cluster_left_running_by_a_killed_run(tmp_root):
    data_dir = tmp_root / "killed-data"
    proc, _ = run_dev(data_dir, free_port())
    proc.kill()
    proc.wait()
    assert EmbeddedPostgres(data_dir / "pgdata").running_port() is not None
    proc, url = run_dev(data_dir, free_port())
    try:
        assert httpx.get(f"{url}/readyz").status_code == 200
    finally:
        stop_dev(proc)
    assert EmbeddedPostgres(data_dir / "pgdata").running_port() is None


def test_settings_default_data_dir_is_dot_docgraph():
    assert Settings.from_env({}).data_dir == Path(".docgraph")



def test_dev_keeps_one_signing_secret_for_local_storage(tmp_root):
    from docgraph.storage.factory import with_dev_signing_secret

    data_dir = tmp_root / "secret-data"
    settings = with_dev_signing_secret(Settings.from_env({}, data_dir=data_dir))
    secret_file = data_dir / "storage-signing-secret"
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    assert settings.storage_signing_secret == secret_file.read_text().strip()
    assert len(settings.storage_signing_secret) >= 32
    again = with_dev_signing_secret(Settings.from_env({}, data_dir=data_dir))
    assert again.storage_signing_secret == settings.storage_signing_secret
    configured = Settings.from_env({}, data_dir=data_dir, storage_signing_secret="c" * 32)
    assert with_dev_signing_secret(configured).storage_signing_secret == "c" * 32
