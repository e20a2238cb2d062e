"""Request bodies: the size limit, and reading a body that layers below re-read.

The limit is checked twice: against ``Content-Length`` before anything is
read, and while the body streams in (chunked requests declare no length).
Uploads to signed storage URLs are exempt: their size is part of what the
URL signs, and the storage layer checks it.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docgraph.errors import PayloadTooLarge
from docgraph.http.headers import header
from docgraph.http.paths import STORAGE_PREFIX
from docgraph.http.responses import error_response


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.",
                           details={"max_bytes": max_bytes})


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, when it declares a sane one."""
    value = header(scope, b"content-length")
    if value is None or not value.isdigit():
        return None
    return int(value)


def limited(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` that raises ``PayloadTooLarge`` once the body passes ``max_bytes``."""
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise too_large(max_bytes)
        return message

    return receive_limited


async def read_body(receive: Receive) -> bytes:
    """The whole request body (what ``receive`` yields until ``more_body`` is false)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` in one message, then defers to ``receive``."""
    sent = False

    async def receive_replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_replay


async def buffer_body(scope: Scope, receive: Receive, max_bytes: int) -> tuple[bytes, Receive]:
    """Read the body within ``max_bytes``; return it and a ``receive`` that replays it."""
    length = declared_length(scope)
    if length is not None and length > max_bytes:
        raise too_large(max_bytes)
    body = await read_body(limited(receive, max_bytes))
    return body, replaying(body, receive)


class BodyLimitMiddleware:
    """413 ``payload_too_large`` for bodies over ``max_bytes`` (storage uploads exempt).

    ``path_limits`` sets another limit for some paths (the GraphQL endpoint).

    A declared ``Content-Length`` over the limit is refused before the body
    is read. Otherwise the body is counted as the application reads it; the
    read that passes the limit raises ``PayloadTooLarge``, and should a layer
    below swallow that error, its response is replaced by the 413 anyway.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int,
                 path_limits: Mapping[str, int] | None = None,
                 exempt_prefixes: tuple[str, ...] = (STORAGE_PREFIX,)) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope["path"], self.max_bytes)
        length = declared_length(scope)
        if length is not None and length > max_bytes:
            raise too_large(max_bytes)
        exceeded = False
        replaced = False
        inner_receive = limited(receive, max_bytes)

        async def receive_counted() -> Message:
            nonlocal exceeded
            try:
                return await inner_receive()
            except PayloadTooLarge:
                exceeded = True
                raise

        async def send_unless_exceeded(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if exceeded and message["type"] == "http.response.start":
                replaced = True
                response = error_response(too_large(max_bytes), scope)
                await response(scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive_counted, send_unless_exceeded)
