"""Request ids and access logs: the outermost layer of every request.

All the HTTP pipeline's layers are plain ASGI (no ``BaseHTTPMiddleware``):
they sit on every request's path, so they add headers by wrapping ``send``
instead of buffering bodies. They share per-request facts through
``scope["state"]``: ``request_id``, ``principal`` (or ``auth_error``), and
``response_headers`` — headers that every response to the request carries,
whichever layer sends it (the rate-limit headers).
"""


from __future__ import annotations

import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docgraph.errors import AppError, InternalError
from docgraph.http.headers import header, set_headers
from docgraph.http.responses import error_response
from docgraph.logs import request_id_var

access_log = logging.getLogger("docgraph.access")
error_log = logging.getLogger("docgraph.error")

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def new_request_id() -> str:
    return "req_" + os.urandom(16).hex()  # uuid4().hex's length, at a fifth of its cost


class RequestIdMiddleware:
    """Gives every request an id, logs it, and never lets an exception escape.

    A sane incoming ``X-Request-ID`` is kept, otherwise one is generated; it
    is echoed on every response, with ``state["response_headers"]``. An
    ``AppError`` raised by the layers below becomes its error body (``error_response``:
    a GraphQL response at the GraphQL endpoint); anything else is logged with the
    request id and masked as a 500.
    """

    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        request_id = incoming if incoming and _SANE_REQUEST_ID.match(incoming) else None
        request_id = request_id or new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                set_headers(message, {"X-Request-ID": request_id,
                                      **state.get("response_headers", {})})
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                error_log.exception("error after the response started")
                raise
            error = exc if isinstance(exc, AppError) else InternalError()
            if not isinstance(exc, AppError):
                error_log.exception("unhandled error", extra={"path": scope["path"]})
            await error_response(error, scope)(scope, receive, send_with_id)
        finally:
            if self.log_requests:
                principal = state.get("principal")
                access_log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "workspace_id": str(principal.workspace_id) if principal else None,
                    },
                )
            request_id_var.reset(token)
