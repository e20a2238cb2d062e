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
"""

from __future__ import annotations

import logging
import sys

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


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (what ``uvicorn[standard]`` runs), refusing
    what it cannot parse with :func:`malformed_request_response`."""

    def send_400_response(self, msg: str) -> None:
        self.transport.write(malformed_request_response(self.server_state.default_headers))
        self.transport.close()
