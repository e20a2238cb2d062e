"""A real HTTP server that receives webhooks in tests: it records every request and
answers as the test says (204 by default), in a thread of its own on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from docgraph.ops.embedded import free_port


@dataclasses.dataclass
class Received:
    """One request as it came: its path, headers (lower-case names) and body bytes."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


# What the receiver answers a request: a status, and a body.
Answer = Callable[[Received], tuple[int, bytes]]


def no_content(received: Received) -> tuple[int, bytes]:
    return 204, b""


class Receiver:
    """Start it, point an endpoint at ``url``, read ``requests``. ``answer`` decides each
    answer; ``hold()`` makes requests wait (unanswered) until ``release()``; ``stop()``
    closes the port (connections refused) and ``start()`` opens it again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[Received] = []
        self.answer: Answer = no_content
        self.lock = threading.Lock()
        self.arrived = threading.Event()  # set at each request
        self._held = threading.Event()
        self._held.set()  # set: not holding
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                received = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                    body, time.monotonic())
                with receiver.lock:
                    receiver.requests.append(received)
                receiver.arrived.set()
                receiver._held.wait(60)
                status, content = receiver.answer(received)
                self.send_response(status)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hold(self) -> None:
        self._held.clear()

    def release(self) -> None:
        self._held.set()

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    async def wait_for(self, done: Callable[[list[Received]], bool], *,
                       within: float = 30) -> list[Received]:
        """The requests, once ``done(requests)`` holds (fails after ``within`` s)."""
        deadline = time.monotonic() + within
        while True:
            requests = self.received()
            if done(requests):
                return requests
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {len(requests)} requests: "
                                     f"{[r.json().get('type') for r in requests]}")
            await asyncio.sleep(0.05)

    async def wait_count(self, count: int, *, within: float = 30) -> list[Received]:
        return await self.wait_for(lambda requests: len(requests) >= count, within=within)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.stop()
