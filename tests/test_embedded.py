"""The embedded cluster and `docgraph dev`, which is what `make run` runs."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from docgraph.config import Settings
from docgraph.ops.embedded import EmbeddedPostgres, free_port

from .conftest import LiveServer, make_settings
from .test_storage_http import assert_malformed_request_answer, raw_exchange


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
        # A request uvicorn cannot parse gets the documented error body.
        answer = raw_exchange("127.0.0.1", int(url.rsplit(":", 1)[1]),
                              b"PUT /storage/x HTTP/1.1\r\nContent-Length: x\r\n\r\n")
        assert_malformed_request_answer(*answer, "Invalid character in Content-Length")
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


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("via_make", [False, True], ids=["docgraph-dev", "make-run"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=lambda s: s.name)
def test_a_signal_to_the_process_group_stops_postgresql_too(tmp_root, tmp_path, sig, via_make):
    # What a process manager, an IDE's stop button or `timeout` does to `make run`.
    data_dir = tmp_root / f"signal-{sig.name}-{via_make}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DOCGRAPH_DATABASE_URL"}
    env.update({"DOCGRAPH_DATA_DIR": str(data_dir), "DOCGRAPH_PORT": str(port)})
    command = [sys.executable, "-m", "docgraph", "dev"]
    if via_make:  # `make run`'s recipe, without its install step
        makefile = tmp_path / "Makefile"
        makefile.write_text(f"run:\n\t{' '.join(command)}\n")
        command = ["make", "-s", "-f", str(makefile), "run"]
    log = (tmp_path / "dev.log").open("w+")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    cluster = EmbeddedPostgres(data_dir / "pgdata")
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        postmaster = int((cluster.data_dir / "postmaster.pid").read_text().splitlines()[0])
        pg_port = cluster.running_port()
        assert pg_port is not None and pid_alive(postmaster)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 10
        while pid_alive(postmaster) and time.monotonic() < deadline:
            time.sleep(0.1)
        log.seek(0)
        assert not pid_alive(postmaster), f"{sig.name} left PostgreSQL running:\n{log.read()}"
        assert not port_open(pg_port) and not port_open(port)
        assert "Traceback" not in log.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        cluster.stop("immediate")
        log.close()
