"""A graphql-transport-ws client for the tests, over a real WebSocket (``websockets``).

It speaks the protocol message by message, so tests can also send what a
well-behaved client never would, and read how the server closes.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")
# How long a test waits for a message that must come (a failure, not a measurement).
WAIT = 30.0

EVENT_FIELDS = "id type occurredAt actor data"
EVENTS = f"""subscription($types: [String!], $documentId: ID, $entityId: ID, $after: ID) {{
  events(types: $types, documentId: $documentId, entityId: $entityId, after: $after) {{
    {EVENT_FIELDS}
  }}
}}"""
DOCUMENT_EVENTS = f"""subscription($types: [String!], $documentId: ID, $entityId: ID,
                                   $after: ID) {{
  documentEvents(types: $types, documentId: $documentId, entityId: $entityId,
                 after: $after) {{ {EVENT_FIELDS} }}
}}"""


def ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http") + "/graphql"


class Closed(Exception):
    """The server closed the connection: its code and reason."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason

    @classmethod
    def of(cls, closed: ConnectionClosed) -> Closed:
        """The close frame the server sent (no code if it sent none)."""
        rcvd = closed.rcvd
        return cls(rcvd.code if rcvd else None, rcvd.reason if rcvd else "")


class Client:
    """One WebSocket connection to /graphql."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = (str(n) for n in itertools.count(1))
        # Messages that came while waiting for a pong, for ``message`` to hand out first.
        self.early: list[dict[str, Any]] = []
        # Answer the server's pings (as graphql-ws's client does), unseen by the test.
        self.answer_pings = True

    @classmethod
    async def open(cls, http_url: str, *, subprotocols: Any = (PROTOCOL,),
                   headers: dict[str, str] | None = None) -> Client:
        """Connect, offering ``subprotocols`` (None: no Sec-WebSocket-Protocol at all)."""
        ws = await connect(ws_url(http_url),
                           subprotocols=None if subprotocols is None else list(subprotocols),
                           additional_headers=headers, proxy=None, open_timeout=WAIT,
                           max_size=None)
        return cls(ws)

    @classmethod
    async def ready(cls, http_url: str, key: str) -> Client:
        """Connected and acknowledged, with ``key``."""
        client = await cls.open(http_url)
        await client.init({"Authorization": f"Bearer {key}"})
        return client

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def send(self, message: Any) -> None:
        """Send ``message`` (raises :class:`Closed` if the server has closed already)."""
        try:
            await self.ws.send(message if isinstance(message, (str, bytes))
                               else orjson.dumps(message).decode())
        except ConnectionClosed as closed:
            raise Closed.of(closed) from None

    async def receive(self) -> dict[str, Any]:
        """The next message (raises :class:`Closed` if the server closed instead)."""
        while True:
            try:
                text = await asyncio.wait_for(self.ws.recv(), WAIT)
            except ConnectionClosed as closed:
                raise Closed.of(closed) from None
            message = orjson.loads(text)
            assert isinstance(message, dict), message
            if self.answer_pings and message == {"type": "ping"}:
                await self.send({"type": "pong"})
                continue
            return message

    async def closed(self) -> Closed:
        """How the server closes the connection (messages before that are skipped)."""
        while True:
            try:
                await self.receive()
            except Closed as closed:
                return closed

    async def init(self, payload: Any = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.send(message)
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack
        return ack

    async def sync(self) -> None:
        """Ping, and wait for the pong: everything sent before has been handled (a
        subscription sent before it delivers every event committed from now on)."""
        await self.send({"type": "ping"})
        while True:
            message = await self.receive()
            if message["type"] == "pong":
                return
            self.early.append(message)

    async def subscribe(self, query: str | None, variables: dict[str, Any] | None = None, *,
                        id: str | None = None, sync: bool = True, **payload: Any) -> str:
        op_id = id or next(self.ids)
        body: dict[str, Any] = {**payload} if query is None else {"query": query, **payload}
        if variables is not None:
            body["variables"] = variables
        await self.send({"id": op_id, "type": "subscribe", "payload": body})
        if sync:
            await self.sync()
        return op_id

    async def message(self) -> dict[str, Any]:
        """The next message, those held back by :meth:`sync` first."""
        if self.early:
            return self.early.pop(0)
        return await self.receive()

    async def error(self, op_id: str) -> list[dict[str, Any]]:
        """The ``error`` message that must come for ``op_id``: its errors."""
        message = await self.message()
        assert message == {"id": op_id, "type": "error", "payload": message.get("payload")}, \
            message
        return list(message["payload"])

    async def events(self, op_id: str, count: int) -> list[dict[str, Any]]:
        """The next ``count`` events of ``op_id`` (``next`` messages; any other message
        fails the test)."""
        found = []
        while len(found) < count:
            message = await self.message()
            assert message.get("type") == "next" and message.get("id") == op_id, message
            payload = message["payload"]
            assert "errors" not in payload, payload
            [event] = payload["data"].values()
            found.append(event)
        return found
