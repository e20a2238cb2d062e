"""uvicorn's HTTP/1.1 protocol, answering a request it cannot parse with docgraph's error body.

uvicorn parses each request (with httptools, which ``uvicorn[standard]``
brings) before docgraph sees it. A request it cannot parse — a
``Content-Length`` that is not a number, is repeated or comes with
``Transfer-Encoding``; a header name or value with forbidden characters; a bad
chunk size; a request line that is not HTTP/1.1 — never reaches the app:
uvicorn answers it itself (``send_400_response``), in plain text, and closes
the connection. :class:`HttpProtocol` is uvicorn's protocol with that answer
in the documented shape: 400 ``validation_error`` with the parser's reason
(``details.reason``) and a new ``X-Request-ID``, logged with that id. Every
server docgraph runs (``serve``, its workers, ``dev``; ``uvicorn.Config(http=...)``)
and the tests' servers use it.

It also writes each response in one piece (:class:`CoalescedWrites`): uvicorn
writes a response's head and its body separately, two system calls and two
TCP segments where one does, and the client wakes twice.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from docgraph.errors import ValidationError
from docgraph.http.request_id import new_request_id

log = logging.getLogger("docgraph.access")


def malformed_request_response(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole 400 response to a request that could not be parsed.

    Called from uvicorn's ``except`` block around its parser, so the parser's
    exception (its message is the reason) is the one being handled.
    """
    error = sys.exc_info()[1]
    reason = str(error).strip().rstrip(".") if error is not None else ""
    request_id = new_request_id()
    app_error = ValidationError(
        "The request is not valid HTTP/1.1" + (f": {reason}." if reason else "."),
        details={"reason": reason} if reason else None)
    body = orjson.dumps(app_error.body(request_id))
    log.warning("malformed HTTP request refused", extra={
        "request_id": request_id, "status": 400, "reason": reason or None})
    head = [b"HTTP/1.1 400 Bad Request",
            *(name + b": " + value for name, value in default_headers),
            b"content-type: application/json",
            b"content-length: " + str(len(body)).encode(),
            b"x-request-id: " + request_id.encode(),
            b"connection: close"]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


# A write this large goes at once (with what is held before it): joining it to a
# response's head would copy it for less than it saves.
HOLD_AT_MOST = 64 * 1024


class CoalescedWrites:
    """A transport whose writes within one turn of the event loop leave as one.

    The first write of a turn is held and a flush scheduled (``call_soon``); the
    writes after it in the same turn join it. A response's head and body are
    written in one turn (nothing in between waits), so they leave together.
    Closing flushes first; aborting drops what is held, as the transport would.
    Everything else is the transport's own.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._held: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            if len(data) >= HOLD_AT_MOST:
                self._transport.write(data)
                return
            self._held = [data]
            self._loop.call_soon(self._flush)
        else:
            held.append(data)
            if len(data) >= HOLD_AT_MOST:  # a body streamed in one turn: no copies
                self._flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held:
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._transport.get_write_buffer_size() + (
            sum(map(len, held)) if held else 0)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (what ``uvicorn[standard]`` runs), refusing
    what it cannot parse with :func:`malformed_request_response`, and writing
    each response in one piece (:class:`CoalescedWrites`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescedWrites(transport))  # type: ignore[arg-type]

    def send_400_response(self, msg: str) -> None:
        self.transport.write(malformed_request_response(self.server_state.default_headers))
        self.transport.close()
