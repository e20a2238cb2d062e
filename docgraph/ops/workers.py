"""``docgraph serve`` with several workers: connections shared out evenly.

uvicorn's own workers all wait on one listening socket, and whichever wakes
first takes what is queued: 64 keep-alive clients arriving together are
often split 24/40, and the busier worker sets the tail latency for as long
as the connections live. Here each worker publishes how many connections it
holds (:class:`ConnectionShares`, memory shared by the workers of one
``serve``), and a worker holding more than another live worker leaves a
waiting connection to it (:class:`BalancedListener`), taking it anyway only
if nobody has within :data:`DEFER_LIMIT_SECONDS`.

The supervisor (:func:`serve`) starts the workers, replaces one that dies,
and on SIGINT or SIGTERM stops them gracefully (each finishes its requests).
It tells ``on_worker_exit`` of each worker gone (the metrics drop its gauges).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sized
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("docgraph.ops.workers")

# A worker ahead of another waits this long for it to take a connection.
DEFER_LIMIT_SECONDS = 0.1
DEFER_STEP_SECONDS = 0.001
# How often a worker republishes its count (connections also close), and after
# how long without it the others stop waiting for that worker.
PUBLISH_INTERVAL_SECONDS = 0.1
STALE_AFTER_MS = 2000
# accept() failures that concern one connection, not the listener.
_CONNECTION_ERRORS = (errno.ECONNABORTED, errno.EPROTO, errno.EPERM)

_SPAWN = multiprocessing.get_context("spawn")
_PID, _CONNECTIONS, _PUBLISHED = range(3)
_FIELDS = 3


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000  # CLOCK_MONOTONIC: the same in every process


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, under another user
    return True


class ConnectionShares:
    """Per worker slot: its pid, its open connections, when it last published."""

    def __init__(self, slots: int) -> None:
        self._cells = _SPAWN.Array("q", slots * _FIELDS)
        self.slots = slots

    def _raw(self) -> Any:
        return self._cells.get_obj()  # indexes as ints (typeshed says c_longlong)

    def claim(self) -> int:
        """A slot for this process: a free one, or one whose worker has gone."""
        with self._cells.get_lock():
            cells = self._raw()
            now = _now_ms()
            for slot in range(self.slots):
                base = slot * _FIELDS
                pid = cells[base + _PID]
                if pid == 0 or now - cells[base + _PUBLISHED] > STALE_AFTER_MS \
                        or not _is_running(pid):
                    cells[base + _PID] = os.getpid()
                    cells[base + _CONNECTIONS] = 0
                    cells[base + _PUBLISHED] = now
                    return slot
        raise RuntimeError("no free worker slot")  # the supervisor starts at most `slots`

    def release_pid(self, pid: int) -> None:
        """Frees the slot of a worker that has exited."""
        with self._cells.get_lock():
            cells = self._raw()
            for base in range(0, self.slots * _FIELDS, _FIELDS):
                if cells[base + _PID] == pid:
                    cells[base + _PID] = cells[base + _PUBLISHED] = 0

    def publish(self, slot: int, connections: int) -> None:
        cells = self._raw()  # one writer per slot: no lock needed
        cells[slot * _FIELDS + _CONNECTIONS] = connections
        cells[slot * _FIELDS + _PUBLISHED] = _now_ms()

    def release(self, slot: int) -> None:
        cells = self._raw()
        cells[slot * _FIELDS + _PID] = 0
        cells[slot * _FIELDS + _PUBLISHED] = 0

    def counts(self) -> list[int | None]:
        """Each slot's connections; None for a slot with no live worker."""
        cells = self._raw()
        now = _now_ms()
        return [cells[base + _CONNECTIONS]
                if cells[base + _PID] and now - cells[base + _PUBLISHED] <= STALE_AFTER_MS
                else None
                for base in range(0, self.slots * _FIELDS, _FIELDS)]

    def is_behind_nobody(self, slot: int, connections: int) -> bool:
        """True unless another live worker holds fewer connections than ``connections``."""
        return all(count is None or count >= connections
                   for other, count in enumerate(self.counts()) if other != slot)


class BalancedListener:
    """Accepts on a shared listening socket, deferring to workers that hold fewer.

    Quacks like the ``asyncio.Server`` uvicorn keeps in ``Server.servers``:
    ``close()`` stops accepting, ``wait_closed()`` waits for that. Plain TCP:
    ``docgraph serve`` leaves TLS to the proxy in front of it.
    """

    def __init__(self, sock: socket.socket, protocol_factory: Callable[[], asyncio.Protocol],
                 connections: Sized, shares: ConnectionShares, slot: int) -> None:
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.connections = connections
        self.shares = shares
        self.slot = slot
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._accept_forever()),
                       loop.create_task(self._publish_forever())]

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def wait_closed(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.shares.release(self.slot)

    async def _publish_forever(self) -> None:
        while True:
            self.shares.publish(self.slot, len(self.connections))
            await asyncio.sleep(PUBLISH_INTERVAL_SECONDS)

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = self.sock.fileno()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)

    async def _my_turn(self) -> None:
        """Returns once no live worker holds fewer connections, or the wait is up."""
        deadline = time.monotonic() + DEFER_LIMIT_SECONDS
        # The other workers' counts live in another process: nothing to await but time.
        while (not self.shares.is_behind_nobody(self.slot, len(self.connections))  # noqa: ASYNC110
               and time.monotonic() < deadline):
            await asyncio.sleep(DEFER_STEP_SECONDS)

    async def _accept_forever(self) -> None:
        while True:
            try:
                await self._readable()
                await self._my_turn()
                await self._accept_one()
            except asyncio.CancelledError:
                raise
            except Exception:  # never stop accepting over one connection
                logger.exception("accepting a connection failed")

    async def _accept_one(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError as exc:
            if exc.errno in _CONNECTION_ERRORS:
                return
            # Out of descriptors or memory: the connection waits in the backlog.
            logger.error("accept failed: %s; retrying in 1 s", exc)
            await asyncio.sleep(1)
            return
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await asyncio.get_running_loop().connect_accepted_socket(self.protocol_factory,
                                                                     conn)
        except BaseException:
            conn.close()
            raise
        self.shares.publish(self.slot, len(self.connections))


class BalancedServer(uvicorn.Server):
    """A uvicorn worker that accepts through a :class:`BalancedListener`."""

    def __init__(self, config: uvicorn.Config, shares: ConnectionShares) -> None:
        super().__init__(config)
        self.shares = shares
        self.parent_pid = os.getppid()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        assert sockets, "BalancedServer serves the sockets its supervisor bound"
        # The application's start-up, without uvicorn's own listeners.
        await super().startup(sockets=[])
        slot = self.shares.claim()

        def protocol_factory() -> asyncio.Protocol:
            return self.config.http_protocol_class(  # type: ignore[call-arg]
                config=self.config, server_state=self.server_state,
                app_state=self.lifespan.state)

        self.servers = [BalancedListener(sock, protocol_factory, self.server_state.connections,  # type: ignore[misc]
                                         self.shares, slot)
                        for sock in sockets]


    async def on_tick(self, counter: int) -> bool:
        if os.getppid() != self.parent_pid:  # the supervisor is gone: so are we
            self.should_exit = True
        return await super().on_tick(counter)


def _run_worker(config: uvicorn.Config, shares: ConnectionShares,
                sockets: list[socket.socket]) -> None:
    # A session of its own, as each PostgreSQL backend has: a terminal's Ctrl-C
    # reaches the supervisor alone, which stops the workers in order; and where
    # the kernel schedules by session (autogroup), a worker competes as a group
    # of its own rather than sharing one with whatever started ``serve``.
    os.setsid()
    config.configure_logging()
    BalancedServer(config, shares).run(sockets=sockets)


class Supervisor:
    """Keeps ``config.workers`` balanced workers running until told to stop."""

    def __init__(self, config: uvicorn.Config,
                 on_worker_exit: Callable[[int], None] | None = None) -> None:
        self.config = config
        self.on_worker_exit = on_worker_exit
        self.sock = config.bind_socket()
        self.sock.listen(config.backlog)  # uvicorn's create_server would, not bind_socket
        self.shares = ConnectionShares(config.workers)
        self.workers: list[multiprocessing.process.BaseProcess] = []
        self.stopping = threading.Event()
        self.exit_code = 0

    def _start_worker(self) -> multiprocessing.process.BaseProcess:
        process = _SPAWN.Process(target=_run_worker, name="docgraph-worker",
                                 args=(self.config, self.shares, [self.sock]))
        process.start()
        logger.info("started worker %s", process.pid)
        return process

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping.set()

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        self.workers = [self._start_worker() for _ in range(self.config.workers)]
        while not self.stopping.wait(0.5):
            self._replace_dead_workers()
        for process in self.workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)  # graceful: uvicorn drains requests
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 30) + 5
        for process in self.workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
            self._exited(process)
        self.sock.close()
        return self.exit_code

    def _exited(self, process: multiprocessing.process.BaseProcess) -> None:
        if process.pid is not None and self.on_worker_exit is not None:
            try:
                self.on_worker_exit(process.pid)
            except Exception:
                logger.exception("cleaning up after worker %s failed", process.pid)

    def _replace_dead_workers(self) -> None:
        for index, process in enumerate(self.workers):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                # The application cannot start: every replacement would fail alike.
                logger.error("worker %s failed to start; stopping", process.pid)
                self.exit_code = STARTUP_FAILURE
                self.stopping.set()
                return
            logger.warning("worker %s exited (%s); starting another", process.pid,
                           process.exitcode)
            if process.pid is not None:
                self.shares.release_pid(process.pid)
            self._exited(process)
            with contextlib.suppress(ValueError):
                process.close()
            self.workers[index] = self._start_worker()


def serve(config: uvicorn.Config, on_worker_exit: Callable[[int], None] | None = None) -> int:
    """Serve with ``config.workers`` balanced workers; the process's exit code."""
    return Supervisor(config, on_worker_exit).run()
