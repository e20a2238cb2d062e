"""Idempotency-Key: a retried POST replays the first response instead of running again.

Applies to every authenticated POST that carries the header (REST routes and
GraphQL mutations alike), except uploads to signed storage URLs. Records live
in PostgreSQL per (workspace, key) for ``DOCGRAPH_IDEMPOTENCY_RETENTION_SECONDS``
(24 hours), so a retry may reach any instance.

* A retry of the same request (method, path and query, and body — compared
  by SHA-256) gets the first response again, byte for byte: status, headers
  the application set, and body, errors included, with
  ``Idempotent-Replayed: true``; the work is not done again.
* The same key with a different request: 422 ``idempotency_key_reused``.
* The same key while the first request still runs: 409
  ``idempotency_in_progress`` with ``Retry-After``.
* A malformed key — empty, over 255 characters, not visible ASCII, or the
  header sent more than once: 400 ``validation_error``.

Concurrent requests with one key race on one INSERT … ON CONFLICT, so exactly
one runs. A request that dies with its instance leaves its key locked until
its lease (``DOCGRAPH_IDEMPOTENCY_LEASE_SECONDS``) runs out; then a retry of
the same request runs it. A response that reports a failure of the server
(HTTP 5xx, or a GraphQL error whose code is a 5xx one, such as
``unavailable``) is not kept: the retry it invites runs the request again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docgraph.bodies import STORAGE_PREFIX, read_body, replaying
from docgraph.db import idempotency
from docgraph.db.database import Database
from docgraph.errors import (
    AppError,
    IdempotencyInProgress,
    IdempotencyMismatch,
    Unavailable,
    ValidationError,
)

log = logging.getLogger("docgraph.idempotency")

HEADER = b"idempotency-key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
MAX_KEY_LENGTH = 255
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_CLAIM_TRIES = 3


def _server_error_codes() -> frozenset[str]:
    codes = set()
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        if cls.status >= 500:
            codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return frozenset(codes)


SERVER_ERROR_CODES = _server_error_codes()


def idempotency_key(scope: Scope) -> str | None:
    """The request's Idempotency-Key, None without one; 400 when malformed."""
    values = [value for name, value in scope["headers"] if name == HEADER]
    if not values:
        return None
    details = {"header": "Idempotency-Key"}
    if len(values) > 1:
        raise ValidationError("Send the Idempotency-Key header once.", details=details)
    key = values[0].decode("latin-1")
    if not _KEY.match(key):
        raise ValidationError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters "
            "(a UUID, for instance).", details=details)
    return key


def fingerprint(scope: Scope, body: bytes) -> bytes:
    """What makes two requests the same request: method, path, query and body."""
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope.get("raw_path") or scope["path"].encode(),
                 scope.get("query_string", b"")):
        digest.update(part)
        digest.update(b"\0")
    digest.update(body)
    return digest.digest()


def reports_server_failure(status: int, headers: list[list[str]], body: bytes) -> bool:
    """Whether a response says the server failed (so a retry should run again)."""
    if status >= 500:
        return True
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    if "json" not in content_type or b'"errors"' not in body:
        return False
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list):
        return False
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and extensions.get("code") in SERVER_ERROR_CODES:
            return True
    return False


class IdempotencyMiddleware:
    """See the module docstring. Sits below authentication (it needs the workspace)."""

    def __init__(self, app: ASGIApp, *, lease_seconds: float, retention_seconds: int,
                 exempt_prefixes: tuple[str, ...] = (STORAGE_PREFIX,)) -> None:
        self.app = app
        self.lease_seconds = lease_seconds
        self.retention_seconds = retention_seconds
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST"
                or scope["path"].startswith(self.exempt_prefixes)):
            await self.app(scope, receive, send)
            return
        key = idempotency_key(scope)
        principal = scope["state"].get("principal")
        if key is None or principal is None:
            await self.app(scope, receive, send)
            return

        body = await read_body(receive)
        receive = replaying(body, receive)
        request_fingerprint = fingerprint(scope, body)
        db: Database = scope["app"].state.db
        workspace_id = principal.workspace_id
        attempt = uuid.uuid4()

        for _ in range(_CLAIM_TRIES):
            if await idempotency.claim(db, workspace_id, key, request_fingerprint, attempt,
                                       lease_seconds=self.lease_seconds,
                                       retention_seconds=self.retention_seconds):
                await self._run(scope, receive, send, db, workspace_id, key, attempt)
                return
            record = await idempotency.get_record(db, workspace_id, key)
            if record is None:  # expired or released since the claim: claim again
                continue
            if record.fingerprint != request_fingerprint:
                raise IdempotencyMismatch(details={"idempotency_key": key})
            if record.status is None or record.headers is None or record.body is None:
                break
            await self._replay(send, record.status, record.headers, record.body)
            return
        raise IdempotencyInProgress(details={"idempotency_key": key},
                                    headers={"Retry-After": "1"})

    async def _run(self, scope: Scope, receive: Receive, send: Send, db: Database,
                   workspace_id: uuid.UUID, key: str, attempt: uuid.UUID) -> None:
        """Run the request holding the claim; keep its response, then send it."""
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, receive, keep)
        except BaseException:
            with contextlib.suppress(Unavailable):
                await idempotency.release(db, workspace_id, key, attempt)
            raise
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is None:  # no response at all: nothing to keep
            with contextlib.suppress(Unavailable):
                await idempotency.release(db, workspace_id, key, attempt)
            return
        status = start["status"]
        headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in start["headers"]]
        body = b"".join(m.get("body", b"") for m in messages
                        if m["type"] == "http.response.body")
        try:
            if reports_server_failure(status, headers, body):
                await idempotency.release(db, workspace_id, key, attempt)
            else:
                await idempotency.complete(db, workspace_id, key, attempt, status=status,
                                           headers=headers, body=body)
        except Unavailable:
            # The work is done: answer it. The key stays locked until its lease
            # ends; a retry after that runs the request again.
            log.warning("could not keep the response for an Idempotency-Key",
                        extra={"workspace_id": str(workspace_id)})
        for message in messages:
            await send(message)

    @staticmethod
    async def _replay(send: Send, status: int, headers: list[list[str]], body: bytes) -> None:
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        await send({"type": "http.response.start", "status": status,
                    "headers": [*raw, REPLAYED_HEADER]})
        await send({"type": "http.response.body", "body": body})

