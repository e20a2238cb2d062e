"""Idempotency-Key: a retried POST replays the first response instead of running again.

Applies to every authenticated POST that carries the header (REST routes and
GraphQL mutations alike), except uploads to signed storage URLs. Records live
in PostgreSQL per (workspace, API key, Idempotency-Key) for
``DOCGRAPH_IDEMPOTENCY_RETENTION_SECONDS`` (24 hours), so a retry may reach any
instance.

* A stored response is replayed only to the API key that made it. Another key
  of the workspace sending the same Idempotency-Key makes a request of its
  own, checked against its own scopes (see the README's *Idempotency*).

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
Neither is one that asks for the request again in another form (the
persisted-query protocol's ``PERSISTED_QUERY_NOT_FOUND``: the client resends
the operation's text with the same key, and that request runs).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docgraph.errors import AppError, ValidationError
from docgraph.http.bodies import read_body, replaying
from docgraph.http.context import services
from docgraph.http.paths import STORAGE_PREFIX
from docgraph.resolvers import idempotency

if TYPE_CHECKING:
    from docgraph.resolvers.context import Database
    from docgraph.resolvers.idempotency import Record

HEADER = b"idempotency-key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
MAX_KEY_LENGTH = 255
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _codes_not_kept() -> frozenset[str]:
    """Codes of server failures (5xx) and of answers asking for the request again."""
    codes = set()
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        if cls.status >= 500 or cls.asks_to_resend:
            codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return frozenset(codes)


CODES_NOT_KEPT = _codes_not_kept()


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


def not_kept(status: int, headers: list[list[str]], body: bytes) -> bool:
    """Whether a response says the server failed, or asks for the request again in
    another form (so the request that follows should run)."""
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
        if isinstance(extensions, dict) and extensions.get("code") in CODES_NOT_KEPT:
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
        db = services(scope["app"]).db
        outcome = await idempotency.claim_or_replay(
            db, principal.workspace_id, principal.key_id, key, fingerprint(scope, body),
            lease_seconds=self.lease_seconds, retention_seconds=self.retention_seconds)
        if isinstance(outcome, idempotency.Claim):
            await self._run(scope, receive, send, db, outcome)
        else:
            await self._replay(send, outcome)

    async def _run(self, scope: Scope, receive: Receive, send: Send, db: Database,
                   claim: idempotency.Claim) -> None:
        """Run the request holding the claim; keep its response, then send it."""
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, receive, keep)
        except BaseException:
            await idempotency.release(db, claim)
            raise
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is None:  # no response at all: nothing to keep
            await idempotency.release(db, claim)
            return
        status = start["status"]
        headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in start["headers"]]
        body = b"".join(m.get("body", b"") for m in messages
                        if m["type"] == "http.response.body")
        if not_kept(status, headers, body):
            await idempotency.release(db, claim)
        else:
            await idempotency.keep(db, claim, status=status, headers=headers, body=body)
        for message in messages:
            await send(message)

    @staticmethod
    async def _replay(send: Send, record: Record) -> None:
        assert record.status is not None and record.headers is not None \
            and record.body is not None
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in record.headers]
        await send({"type": "http.response.start", "status": record.status,
                    "headers": [*raw, REPLAYED_HEADER]})
        await send({"type": "http.response.body", "body": record.body})
