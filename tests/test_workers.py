"""``docgraph serve`` with two workers: connections shared evenly, workers replaced."""

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.instances import Instance, fresh_database
from tests.test_storage_http import assert_malformed_request_answer, raw_exchange


@pytest.fixture(scope="module")
async def workers_url(cluster):
    return await fresh_database(cluster, "workers")


@pytest.fixture
def served(workers_url, tmp_root):
    instance = Instance(workers_url, tmp_root, DOCGRAPH_WORKERS="2").start()
    try:
        until(lambda: len(worker_pids(instance)) == 2, "two workers")
        yield instance
    finally:
        instance.stop()


def until(predicate, what, within=30.0):
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.05)


def gone(pid: int) -> bool:
    """Exited (a zombie counts: whoever reaps it is not ours to test)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def worker_pids(instance: Instance) -> list[int]:
    """The supervisor's live worker processes (from /proc: its children running spawn_main)."""
    assert instance.process is not None
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked
        if int(ppid) == instance.process.pid and state != "Z" and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return pids


def served_connections(instance: Instance) -> dict[int, int]:
    """Established connections to the instance's port, per worker pid (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == instance.port and fields[3] == "01":  # ESTABLISHED
            inodes.add(fields[9])
    counts = {}
    for pid in worker_pids(instance):
        held = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except FileNotFoundError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        counts[pid] = held
    return counts


def test_keep_alive_connections_are_shared_evenly_between_the_workers(served):
    clients = []
    try:
        # Connections arrive one after the other, each used at once and kept open:
        # with workers that simply race for them, one often takes most.
        for _ in range(16):
            client = httpx.Client(base_url=served.url, timeout=10)
            assert client.get("/healthz").status_code == 200
            clients.append(client)
        counts = served_connections(served)
        assert sorted(counts.values()) == [8, 8], counts
        # Every connection is still served.
        for client in clients:
            assert client.get("/readyz").status_code == 200
    finally:
        for client in clients:
            client.close()


def test_a_worker_that_dies_is_replaced_and_the_service_goes_on(served):
    first = worker_pids(served)
    os.kill(first[0], signal.SIGKILL)
    # One look at a time: two looks could see the dying worker in the first (not yet a
    # zombie) and no replacement yet in the second.
    until(lambda: len(set(worker_pids(served)) - set(first)) == 1, "a replacement worker")
    until(lambda: len(worker_pids(served)) == 2, "the killed worker gone")
    (replacement,) = set(worker_pids(served)) - set(first)

    def replacement_takes_its_share():
        # Two connections in turn: once the replacement serves, it takes one.
        clients = [httpx.Client(base_url=served.url, timeout=10) for _ in range(2)]
        try:
            for client in clients:
                assert client.get("/readyz").status_code == 200
            return served_connections(served).get(replacement) == 1
        finally:
            for client in clients:
                client.close()

    until(replacement_takes_its_share, "the replacement serving", within=60)


def test_sigterm_stops_the_workers_and_the_supervisor_cleanly(served):
    pids = worker_pids(served)
    assert served.process is not None
    served.process.terminate()
    assert served.process.wait(timeout=30) == 0
    for pid in pids:
        until(lambda pid=pid: gone(pid), f"worker {pid} gone")
    with pytest.raises(httpx.ConnectError):
        httpx.get(served.url + "/healthz", timeout=2)


def test_workers_stop_when_the_supervisor_is_killed(served):
    pids = worker_pids(served)
    served.kill()  # SIGKILL: the supervisor cannot stop them itself
    for pid in pids:
        until(lambda pid=pid: gone(pid), f"worker {pid} gone")


def test_workers_answer_a_malformed_request_with_the_documented_error_body(served):
    request = (b"PUT /storage/x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n")
    for _ in range(4):  # whichever worker takes the connection
        assert_malformed_request_answer(*raw_exchange("127.0.0.1", served.port, request),
                                        "Invalid character in Content-Length")
