"""GraphQL subscriptions over WebSocket at ``/graphql``: the graphql-transport-ws protocol.

The protocol is graphql-ws's (``Sec-WebSocket-Protocol: graphql-transport-ws``;
https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md), which GraphiQL
and the graphql-ws client speak. docgraph serves it itself rather than through
strawberry's handler: authentication is its API keys, every refusal has the
protocol's answer (never a crash, whatever a client sends), and each
subscription is priced, limited and checked like a query over HTTP.
Subscriptions run through strawberry's ``Schema.subscribe``, with the rules every
document is validated with (depth, aliases, tokens).

* **Connecting.** A browser page's ``Origin`` must be docgraph's own or one of
  ``DOCGRAPH_CORS_ORIGINS`` (refused: 403 before the upgrade). A client that does
  not offer ``graphql-transport-ws`` is closed with 4406.
* **connection_init** within ``DOCGRAPH_SUBSCRIPTION_INIT_TIMEOUT_SECONDS`` (else
  4408), carrying the key as HTTP would: ``{"Authorization": "Bearer wbk_..."}``
  (or the upgrade request's own ``Authorization`` header). It counts as one
  request against the key's rate limit (against the address without a valid
  key). A missing, malformed, unknown or revoked key, or one without
  ``read:documents``: 4403, the reason naming the code (``invalid_key: ...``,
  ``insufficient_permissions: ...``); over the rate limit: 4429
  (``rate_limited: ...``); the database away: 1013 (try again later). A second
  ``connection_init``: 4429. Then ``connection_ack``.
* **subscribe** (only after the ack: 4401) with an id no running subscription of
  the connection has (4409) and a payload as a GraphQL-over-HTTP POST body
  (``query``, ``variables``, ``operationName``, ``extensions``; persisted
  documents too, and with ``DOCGRAPH_TRUSTED_DOCUMENTS`` only trusted ones). Only
  subscriptions run here (queries and mutations go over HTTP). Counted against
  the key's rate limit as its root fields (one), within
  ``DOCGRAPH_SUBSCRIPTIONS_PER_CONNECTION`` and the process's
  ``DOCGRAPH_SUBSCRIPTIONS_PER_PROCESS`` (which also bounds its open connections:
  one more is closed at once, 1013). A refusal is an ``error`` message for
  that id, its errors shaped as over HTTP (``extensions.code``); the connection
  goes on. Each event is a ``next`` message; ``complete`` ends one either way.
  A subscription without ``after`` delivers every event committed after its
  ``subscribe`` message was read: a ``ping`` sent after it is answered after
  that point is fixed.
* **Messages** are JSON text objects with a known ``type`` and fields of the
  right types, at most ``DOCGRAPH_GRAPHQL_MAX_BODY_BYTES`` long (else 1009);
  anything else closes the connection with 4400 and a reason.
* **Keep-alive**: ``ping`` is answered ``pong``. docgraph sends ``ping`` after
  ``DOCGRAPH_SUBSCRIPTION_PING_SECONDS`` without sending anything, and closes
  (1001) a connection from which nothing has come for three times as long.
* A key revoked while its subscriptions run closes the connection (4403) at its
  next event, within ``DOCGRAPH_KEY_CACHE_SECONDS`` (at least a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from graphql import GraphQLError, OperationType
from starlette.types import Receive, Scope, Send
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from docgraph.config import Settings
from docgraph.errors import (
    AppError,
    InternalError,
    InvalidKey,
    OperationRefused,
    RateLimited,
    TooManySubscriptions,
    Unavailable,
    ValidationError,
)
from docgraph.http.context import services
from docgraph.http.graphql import GraphQLRequest, error_extensions, find_document, request_of
from docgraph.http.rate_limits import client_address
from docgraph.http.request_id import access_log, new_request_id
from docgraph.logs import request_id_var
from docgraph.resolvers import json_text
from docgraph.resolvers.auth import READ_DOCUMENTS, Principal, bearer_token
from docgraph.resolvers.context import Services
from docgraph.resolvers.persisted_operations import PersistedOperations
from docgraph.resolvers.subscriptions import SubscriptionContext, subscription_start
from docgraph.schema import DocgraphSchema
from docgraph.schema.cost import root_fields
from docgraph.schema.documents import parse_document, single_operation
from docgraph.schema.errors import formatted

log = logging.getLogger("docgraph.graphql.websocket")

PROTOCOL = "graphql-transport-ws"
# Close codes: graphql-ws's, and WebSocket's own (RFC 6455).
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
TRY_AGAIN_LATER = 1013
BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
SUBPROTOCOL_NOT_ACCEPTABLE = 4406
INIT_TIMEOUT = 4408
SUBSCRIBER_EXISTS = 4409
TOO_MANY_REQUESTS = 4429
INTERNAL_SERVER_ERROR = 4500
# A close frame's reason is at most 123 bytes.
REASON_MAX_BYTES = 123
OPERATION_ID_MAX = 256
# Nothing received for this many ping intervals: the client is gone.
SILENT_PINGS = 3
# A revoked key stops its subscriptions within the key cache's time, at least this.
REVERIFY_MIN_SECONDS = 1.0


class Close(Exception):
    """Ends the connection with a close code and a reason (the protocol's refusals)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def close_reason(text: str) -> str:
    """``text`` cut to what a close frame holds (123 bytes of UTF-8)."""
    encoded = text.encode()
    if len(encoded) <= REASON_MAX_BYTES:
        return text
    return encoded[:REASON_MAX_BYTES - 3].decode(errors="ignore") + "..."


def refusal(code: int, error: AppError) -> Close:
    """A close that names the error's code, as HTTP would have answered it."""
    return Close(code, close_reason(f"{error.code}: {error.message}"))


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope: Scope, allowed: tuple[str, ...]) -> bool:
    """A page may open a WebSocket to docgraph from docgraph's own origin (GraphiQL)
    or from one allowed to call it (``DOCGRAPH_CORS_ORIGINS``); other clients send
    no ``Origin``."""
    origin = header(scope, b"origin")
    if origin is None or "*" in allowed or origin.rstrip("/") in allowed:
        return True
    host = header(scope, b"host")
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


class GraphQLWebSocket:
    """The ASGI app of WebSocket connections to ``/graphql`` (see the module docstring)."""

    def __init__(self, schema: DocgraphSchema, settings: Settings,
                 operations: PersistedOperations | None = None) -> None:
        self.schema = schema
        self.settings = settings
        self.operations = operations
        # Open connections of this process: at most DOCGRAPH_SUBSCRIPTIONS_PER_PROCESS
        # (a connection is worth keeping for the subscriptions it runs).
        self.connections = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        token = request_id_var.set(request_id)
        self.connections += 1
        try:
            full = self.connections > self.settings.subscriptions_per_process
            await _Connection(self, scope, receive, send, request_id).run(full=full)
        finally:
            self.connections -= 1
            request_id_var.reset(token)


class _Operation:
    __slots__ = ("id", "task")

    def __init__(self, id: str) -> None:
        self.id = id
        self.task: asyncio.Task[None] | None = None


class _Connection:
    """One WebSocket connection: its state, its reader, its subscriptions' tasks."""

    def __init__(self, app: GraphQLWebSocket, scope: Scope, receive: Receive, send: Send,
                 request_id: str) -> None:
        self.app = app
        self.settings = app.settings
        self.scope = scope
        self.receive = receive
        self._send = send
        self.request_id = request_id
        self.services: Services = services(scope["app"])
        self.principal: Principal | None = None
        self.key: str | None = None
        self.verified_at = 0.0
        self.init_received = False
        self.acknowledged = False
        self.operations: dict[str, _Operation] = {}
        self.subscribed = 0
        self.closed = False
        self.close_code: int | None = None
        # The close frame docgraph sends (code, reason), once every task has stopped.
        self.closing: tuple[int, str] | None = None
        self.finished = asyncio.Event()
        self.send_lock = asyncio.Lock()
        now = time.monotonic()
        self.started = now
        self.last_received = now
        self.last_sent = now

    # -- the connection's life ----------------------------------------------------------

    async def run(self, *, full: bool = False) -> None:
        message = await self.receive()
        if message["type"] != "websocket.connect":
            return
        if not origin_allowed(self.scope, self.settings.cors_origins):
            # Before the upgrade: the client gets 403.
            await self._send({"type": "websocket.close", "code": POLICY_VIOLATION})
            self._log(status=403)
            return
        if PROTOCOL not in self.scope.get("subprotocols", ()):
            await self._send({"type": "websocket.accept"})
            self.close(SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
        else:
            await self._send({"type": "websocket.accept", "subprotocol": PROTOCOL})
            if full:
                self.close(TRY_AGAIN_LATER, "Try again later: this instance holds as many "
                                            "connections as it may")
            else:
                await self._serve()
        if self.closing is not None:
            code, reason = self.closing
            with contextlib.suppress(Exception):  # the client may be gone already
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
        self._log(status=101)

    async def _serve(self) -> None:
        """Read messages and run subscriptions until either side ends the connection;
        then stop every task (a send blocked on a client that reads nothing included)."""
        reader = asyncio.create_task(self._read(), name="docgraph-ws-read")
        keeper = asyncio.create_task(self._keep_alive(), name="docgraph-ws-keep-alive")
        try:
            await self.finished.wait()
        finally:
            tasks = [reader, keeper, *(op.task for op in self.operations.values() if op.task)]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            self.operations.clear()

    async def _read(self) -> None:
        try:
            while not self.closed:
                message = await self.receive()
                if message["type"] == "websocket.disconnect":
                    self.close_code = message.get("code")
                    self.closed = True
                    return
                if message["type"] != "websocket.receive":
                    continue
                self.last_received = time.monotonic()
                await self._handle(message)
        except Close as close:
            self.close(close.code, close.reason)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error on a GraphQL WebSocket connection")
            self.close(INTERNAL_SERVER_ERROR, "Internal server error")
        finally:
            self.finished.set()

    def close(self, code: int, reason: str) -> None:
        """End the connection with this close code (the first one asked for wins);
        nothing is sent after it."""
        if not self.closed:
            self.closed = True
            self.close_code = code
            self.closing = (code, close_reason(reason))
        self.finished.set()

    async def send(self, message: Mapping[str, Any]) -> None:
        text = orjson.dumps(message).decode()
        async with self.send_lock:
            if self.closed:
                return
            try:
                await self._send({"type": "websocket.send", "text": text})
            except Exception:  # the client went away: the reader will hear of it
                self.closed = True
                self.finished.set()
                return
            self.last_sent = time.monotonic()

    async def _keep_alive(self) -> None:
        """The init timeout, then pings while idle; a silent client is let go."""
        try:
            await asyncio.sleep(self.settings.subscription_init_timeout_seconds)
            if not self.acknowledged and not self.init_received:
                self.close(INIT_TIMEOUT, "Connection initialisation timeout")
                return
            interval = self.settings.subscription_ping_seconds
            while not self.closed:
                await asyncio.sleep(interval / 2)
                now = time.monotonic()
                if now - self.last_received >= SILENT_PINGS * interval:
                    self.close(GOING_AWAY, "Keep-alive timeout: no pong")
                    return
                if now - self.last_sent >= interval:
                    await self.send({"type": "ping"})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error keeping a GraphQL WebSocket alive")
            self.close(INTERNAL_SERVER_ERROR, "Internal server error")

    def _log(self, *, status: int) -> None:
        if not self.settings.access_log:
            return
        access_log.info("request", extra={
            "request_id": self.request_id, "method": "GET", "path": self.scope.get("path"),
            "status": status, "websocket": True, "close_code": self.close_code,
            "subscriptions": self.subscribed,
            "duration_ms": round((time.monotonic() - self.started) * 1000, 2),
            "workspace_id": str(self.principal.workspace_id) if self.principal else None})

    # -- messages ---------------------------------------------------------------------

    async def _handle(self, message: Mapping[str, Any]) -> None:
        text = message.get("text")
        if text is None:
            raise Close(BAD_REQUEST, "Invalid message: send JSON text, not binary")
        if len(text) > self.settings.graphql_max_body_bytes:
            raise Close(MESSAGE_TOO_BIG, "Message too big: at most "
                        f"{self.settings.graphql_max_body_bytes} bytes")
        try:
            parsed = json_text.loads(text)
        except ValueError:
            raise Close(BAD_REQUEST, "Invalid message: not JSON") from None
        if not isinstance(parsed, dict):
            raise Close(BAD_REQUEST, "Invalid message: expected a JSON object")
        kind = parsed.get("type")
        if not isinstance(kind, str):
            raise Close(BAD_REQUEST, "Invalid message: type must be a string")
        if kind == "connection_init":
            await self._connection_init(parsed)
        elif kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(parsed)
        elif kind == "complete":
            await self._complete(parsed)
        else:
            raise Close(BAD_REQUEST, close_reason(f"Invalid message: unknown type {kind!r}"))

    async def _connection_init(self, message: dict[str, Any]) -> None:
        if self.init_received:
            raise Close(TOO_MANY_REQUESTS, "Too many initialisation requests")
        self.init_received = True
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            raise Close(BAD_REQUEST, "Invalid message: connection_init's payload must be an "
                                     "object")
        authorization = _authorization(payload or {})
        if authorization is None:
            authorization = header(self.scope, b"authorization")
        limiter = self.services.rate_limits
        try:
            try:
                if authorization is not None and not isinstance(authorization, str):
                    raise InvalidKey("Malformed API key: expected "
                                     '{"Authorization": "Bearer wbk_..."}')
                self.key = bearer_token(authorization)
                self.principal = await self.services.keys.verify(self.key)
            except InvalidKey as error:
                hit = await limiter.count_for_address(
                    client_address(self.scope), limit=self.settings.address_rate_limit)
                if not hit.allowed:
                    raise refusal(TOO_MANY_REQUESTS, RateLimited(hit.reset_seconds)) from None
                raise refusal(FORBIDDEN, error) from None
            self.verified_at = time.monotonic()
            if READ_DOCUMENTS not in self.principal.scopes:
                raise Close(FORBIDDEN, "insufficient_permissions: Missing read:documents "
                                       "permission (subscriptions read events).")
            hit = await limiter.count_for_key(
                self.principal, cost=1,
                limit=self.principal.rate_limit or self.settings.rate_limit)
        except Unavailable as error:
            raise refusal(TRY_AGAIN_LATER, error) from None
        if not hit.allowed:
            raise refusal(TOO_MANY_REQUESTS, RateLimited(
                hit.reset_seconds, f"Rate limit exceeded: retry after {hit.reset_seconds} s."))
        self.acknowledged = True
        await self.send({"type": "connection_ack"})

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            raise Close(UNAUTHORIZED, "Unauthorized")
        op_id = _operation_id(message)
        if op_id in self.operations:
            raise Close(SUBSCRIBER_EXISTS, close_reason(f"Subscriber for {op_id} already exists"))
        payload = message.get("payload")
        if not isinstance(payload, dict):
            raise Close(BAD_REQUEST, "Invalid message: subscribe's payload must be an object")
        try:
            request = request_of(payload)
        except ValidationError as error:
            raise Close(BAD_REQUEST, close_reason(f"Invalid message: {error.message}")) from None
        except AppError as error:  # a persisted query of another protocol version
            await self._refuse(op_id, error, running=False)
            return
        try:
            request, context = await self._prepare(request)
        except AppError as error:
            await self._refuse(op_id, error, running=False)
            return
        except _DocumentRefused as refused:
            await self._errors(op_id, [refused.error], running=False)
            return
        operation = _Operation(op_id)
        self.operations[op_id] = operation
        self.subscribed += 1
        operation.task = asyncio.create_task(self._run(operation, request, context),
                                             name=f"docgraph-subscription-{op_id[:32]}")

    async def _prepare(self, request: GraphQLRequest) -> tuple[GraphQLRequest,
                                                                 SubscriptionContext]:
        """Everything a subscription needs before it runs: the document, the key still
        valid, the price paid, and its starting point fixed. Refusals: ``AppError``."""
        assert self.principal is not None and self.key is not None
        if len(self.operations) >= self.settings.subscriptions_per_connection:
            raise TooManySubscriptions(
                f"At most {self.settings.subscriptions_per_connection} subscriptions run on "
                "one connection: complete one first, or open another connection.",
                details={"max_subscriptions": self.settings.subscriptions_per_connection})
        request = await find_document(lambda: self.services.db, request, self.app.operations)
        source = request.source
        _check_subscription(self.app.schema, source, request.operation_name)
        await self._reverify()
        limit = self.principal.rate_limit or self.settings.rate_limit
        cap = min(self.settings.graphql_max_root_fields, limit)
        cost = max(1, root_fields(source, request.operation_name,
                                  max_tokens=self.settings.graphql_max_tokens))
        if cost > cap:  # counted as one request, as over HTTP
            hit = await self.services.rate_limits.count_for_key(self.principal, cost=1,
                                                                limit=limit)
            if not hit.allowed:
                raise RateLimited(hit.reset_seconds, "Rate limit exceeded: retry after the "
                                  "window resets.", details={"limit": hit.limit, "cost": 1})
            raise OperationRefused(
                f"The operation selects {cost} root fields; at most {cap} are allowed in one "
                "request.", details={"root_fields": cost, "max_root_fields": cap})
        hit = await self.services.rate_limits.count_for_key(self.principal, cost=cost,
                                                            limit=limit)
        if not hit.allowed:
            raise RateLimited(hit.reset_seconds, "Rate limit exceeded: retry after the window "
                              "resets.", details={"limit": hit.limit, "cost": cost})
        start = await subscription_start(self.services)
        return request, SubscriptionContext(self.services, self.principal, self.request_id,
                                            start)

    async def _complete(self, message: dict[str, Any]) -> None:
        """The client ends a subscription: once this returns, its place is free (the
        task's clean-up awaits nothing that may block)."""
        if not self.acknowledged:
            raise Close(UNAUTHORIZED, "Unauthorized")
        operation = self.operations.pop(_operation_id(message), None)
        if operation is not None and operation.task is not None:
            operation.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await operation.task

    async def _reverify(self) -> None:
        """The key is still valid (checked again once the key cache's time has passed)."""
        assert self.key is not None
        interval = max(self.settings.key_cache_seconds, REVERIFY_MIN_SECONDS)
        if time.monotonic() - self.verified_at < interval:
            return
        try:
            await self.services.keys.verify(self.key)
        except InvalidKey as error:
            raise refusal(FORBIDDEN, error) from None
        self.verified_at = time.monotonic()

    # -- running a subscription --------------------------------------------------------

    async def _run(self, operation: _Operation, request: GraphQLRequest,
                   context: SubscriptionContext) -> None:
        op_id = operation.id
        try:
            results = await self.app.schema.subscribe(
                request.source, variable_values=request.variables, context_value=context,
                operation_name=request.operation_name, operation_extensions=request.extensions)
            async with aclosing(results):
                first = True
                async for result in results:
                    if first and isinstance(result, PreExecutionError):
                        await self._errors(op_id, result.errors or [])
                        return
                    first = False
                    assert isinstance(result, ExecutionResult)
                    await self._next(op_id, result)
            await self._finish(op_id, {"id": op_id, "type": "complete"})
        except asyncio.CancelledError:
            raise
        except Close as close:
            self.close(close.code, close.reason)
        except Exception:
            log.exception("unexpected error in a GraphQL subscription")
            await self._refuse(op_id, InternalError())
        finally:
            if self.operations.get(op_id) is operation:
                del self.operations[op_id]

    async def _next(self, op_id: str, result: ExecutionResult) -> None:
        await self._reverify()
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [formatted(error).formatted for error in result.errors]
        if self.operations.get(op_id) is not None:
            await self.send({"id": op_id, "type": "next", "payload": payload})

    async def _errors(self, op_id: str, errors: list[GraphQLError], *,
                      running: bool = True) -> None:
        await self._finish(op_id, {"id": op_id, "type": "error", "payload": [
            formatted(error).formatted for error in errors]}, running=running)

    async def _refuse(self, op_id: str, error: AppError, *, running: bool = True) -> None:
        await self._finish(op_id, {"id": op_id, "type": "error", "payload": [
            {"message": error.message, "extensions": error_extensions(error)}]},
            running=running)

    async def _finish(self, op_id: str, message: Mapping[str, Any], *,
                      running: bool = True) -> None:
        """The last message of a subscription (``error`` or ``complete``), unless the
        client completed it first. ``running``: it was started (not refused at once)."""
        if running and self.operations.pop(op_id, None) is None:
            return
        await self.send(message)


class _DocumentRefused(Exception):
    """The document cannot run here (no single subscription to run): its GraphQL error."""

    def __init__(self, error: GraphQLError) -> None:
        super().__init__(error.message)
        self.error = error


def _check_subscription(schema: DocgraphSchema, source: str, operation_name: str | None) -> None:
    """The document parses (within the token limit), names one operation to run, and
    that is a subscription: queries and mutations go over HTTP."""
    try:
        document = parse_document(source, schema.max_tokens)
        operation = single_operation(document, operation_name)
    except GraphQLError as error:
        raise _DocumentRefused(error) from None
    if operation.operation is not OperationType.SUBSCRIPTION:
        raise _DocumentRefused(GraphQLError(
            f"Only subscriptions run over WebSocket: send {operation.operation.value} "
            "operations over HTTP (POST /graphql)."))


def _operation_id(message: Mapping[str, Any]) -> str:
    op_id = message.get("id")
    if not isinstance(op_id, str) or not op_id or len(op_id) > OPERATION_ID_MAX:
        raise Close(BAD_REQUEST, f"Invalid message: id must be a string of 1-{OPERATION_ID_MAX} "
                                 "characters")
    return op_id


def _authorization(payload: Mapping[str, Any]) -> Any:
    """The ``Authorization`` entry of connection_init's payload (named in any case)."""
    for name, value in payload.items():
        if isinstance(name, str) and name.lower() == "authorization":
            return value
    return None
