"""Following a workspace's events live: what GraphQL subscriptions deliver.

* :class:`EventHub` — one per process. Its :class:`~docgraph.db.notifications.Listener`
  holds the process's one ``LISTEN docgraph_events`` connection (reconnecting when
  lost); each notification (a workspace id, sent at the commit of every
  transaction that recorded events) wakes that workspace's subscriptions in this
  process, and a (re)connection wakes them all, since notifications sent while
  nobody listened are gone. It bounds the subscriptions of the process
  (``DOCGRAPH_SUBSCRIPTIONS_PER_PROCESS``) and how many read at once.
* :func:`follow_events` — one subscription: an :class:`EventStream` that reads the
  workspace's events after its own position (``db.events.SELECT_EVENT_STREAM``,
  the outbox's reading rule: only events of transactions older than every
  transaction still running), yields them in id order, and sleeps until woken.
  Events therefore reach every instance's subscribers, none is ever skipped, and
  a subscriber that comes back with the id of the last event it received (``after``)
  gets exactly what it missed, as long as the retention kept it. The wake-up only
  says when to read: a missed or repeated notification costs a read, never an event.

An event notified while an older transaction still runs cannot be read yet, and
no notification comes when it can: the stream then reads again after a short
wait (doubling up to ``HELD_WAIT_MAX_SECONDS``) until it can.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from docgraph.db import events as events_db
from docgraph.db.notifications import Listener
from docgraph.errors import AppError, Unavailable, ValidationError
from docgraph.resolvers import resources
from docgraph.resolvers.auth import READ_DOCUMENTS, Principal
from docgraph.resolvers.context import RequestContext, Services
from docgraph.resolvers.records import EVENT_TYPES, EventPosition, EventRecord

log = logging.getLogger("docgraph.subscriptions")

# The types documentEvents delivers.
DOCUMENT_EVENT_TYPES = tuple(t for t in EVENT_TYPES if t.startswith("document."))
# Events read per statement (a subscription catching up reads again at once).
READ_BATCH = 100
# Reading again while an event is held back by an older transaction still running.
HELD_WAIT_MIN_SECONDS = 0.02
HELD_WAIT_MAX_SECONDS = 1.0
# Reading again after the database failed to answer.
RETRY_MIN_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0


class EventHub:
    """The process's subscriptions to events, woken by its one listening connection."""

    def __init__(self, database_url: str | None, *, max_subscriptions: int,
                 concurrent_reads: int = 4) -> None:
        self.max_subscriptions = max_subscriptions
        self._reads = asyncio.Semaphore(max(1, concurrent_reads))
        self._waiting: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._reserved = 0
        self._listener = None if database_url is None else Listener(
            database_url, events_db.CHANNEL, on_notify=self.notify, on_connect=self.wake_all)
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> int:
        """Subscriptions open in this process."""
        return self._reserved

    @property
    def listener(self) -> Listener | None:
        return self._listener

    def start(self) -> None:
        """Start listening (in the background: the app starts while the database is away)."""
        if self._listener is not None and self._task is None:
            self._task = asyncio.create_task(self._listener.run(), name="docgraph-listener")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- wake-ups -------------------------------------------------------------------

    def notify(self, payload: str) -> None:
        """A notification: wake the subscriptions of the workspace it names."""
        try:
            workspace_id = uuid.UUID(payload)
        except ValueError:
            log.warning("a notification on %s named no workspace: %r", events_db.CHANNEL,
                        payload[:100])
            return
        for wake in self._waiting.get(workspace_id, ()):
            wake.set()

    def wake_all(self) -> None:
        for wakes in self._waiting.values():
            for wake in wakes:
                wake.set()

    # -- subscriptions ----------------------------------------------------------------

    def reserve(self) -> None:
        """Take a place for a subscription, or ``Unavailable`` when the process is full."""
        if self._reserved >= self.max_subscriptions:
            raise Unavailable(
                "This instance serves as many subscriptions as it may "
                f"({self.max_subscriptions}); subscribe again shortly.",
                retry_after=5, details={"max_subscriptions": self.max_subscriptions})
        self._reserved += 1

    def release(self) -> None:
        self._reserved -= 1

    def watch(self, workspace_id: uuid.UUID) -> asyncio.Event:
        wake = asyncio.Event()
        self._waiting.setdefault(workspace_id, set()).add(wake)
        return wake

    def unwatch(self, workspace_id: uuid.UUID, wake: asyncio.Event) -> None:
        wakes = self._waiting.get(workspace_id)
        if wakes is not None:
            wakes.discard(wake)
            if not wakes:
                del self._waiting[workspace_id]

    @contextlib.asynccontextmanager
    async def reading(self) -> Any:
        async with self._reads:
            yield


@dataclasses.dataclass(frozen=True, slots=True)
class Start:
    """Where a subscription that starts now begins (``events.start_position``: it gets
    every event committed from now on), and the first transaction id not assigned yet:
    no event's id names one as large, so an ``after`` that does is no id of ours."""

    position: EventPosition
    next_txid: int


class SubscriptionContext(RequestContext):
    """A subscription's context: a request's, with the process's hub and its
    :class:`Start`, fixed when the subscribe message arrived (so that a subscription
    without ``after`` delivers every event committed from then on)."""

    __slots__ = ("events", "start")

    def __init__(self, services: Services, principal: Principal, request_id: str,
                 start: Start) -> None:
        super().__init__(services, principal, request_id)
        if services.events is None:
            raise Unavailable("Subscriptions are off on this instance.")
        self.events: EventHub = services.events
        self.start = start


async def subscription_start(services: Services) -> Start:
    """Where a subscription that starts now begins (one statement)."""
    frontier, next_txid = await events_db.select_frontier_and_next(services.db)
    return Start(EventPosition(frontier, 0), next_txid)


async def follow_events(ctx: SubscriptionContext, arguments: Mapping[str, Any], *,
                        documents_only: bool = False) -> EventStream:
    """A subscription to the workspace's events matching ``arguments``
    (``resources.EVENT_STREAM``: types, document_id, entity_id, after);
    ``documents_only``: the ``document.*`` types only. Needs ``read:documents``.

    Checks everything before it returns (a refusal is the subscription's error,
    before any event), and takes a place among the process's subscriptions,
    given back when the stream is closed.
    """
    ctx.principal.require(READ_DOCUMENTS)
    given = resources.EVENT_STREAM.parse({k: v for k, v in arguments.items() if v is not None})
    types = given.get("types")
    if documents_only:
        if types is None:
            types = list(DOCUMENT_EVENT_TYPES)
        elif any(t not in DOCUMENT_EVENT_TYPES for t in types):
            raise ValidationError("Invalid input: types.", details={"fields": {
                "types": "must name document events only (document.*): "
                         + ", ".join(DOCUMENT_EVENT_TYPES)}})
    after = given.get("after")
    if after is not None and after.txid >= ctx.start.next_txid:
        raise ValidationError("Invalid input: after.", details={"fields": {
            "after": "is no event id of this service (it names a transaction still to come): "
                     "resume after the last id received, or omit it"}})
    ctx.events.reserve()
    return EventStream(ctx, types=types, document_id=given.get("document_id"),
                       entity_id=given.get("entity_id"), after=after or ctx.start.position)


class EventStream:
    """One subscription's events, in id order, for as long as it is iterated.

    An async iterator (not a generator) so that closing it gives its place back
    even when it never started.
    """

    def __init__(self, ctx: SubscriptionContext, *, types: list[str] | None,
                 document_id: uuid.UUID | None, entity_id: uuid.UUID | None,
                 after: EventPosition) -> None:
        self.ctx = ctx
        self.hub = ctx.events
        self.workspace_id = ctx.workspace_id
        self.types = types
        self.document_id = document_id
        self.entity_id = entity_id
        self.position = after
        self._buffer: collections.deque[EventRecord] = collections.deque()
        self._wake = self.hub.watch(self.workspace_id)
        self._closed = False

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> EventRecord:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            await self._fill()
        return self._buffer.popleft()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self.hub.unwatch(self.workspace_id, self._wake)
            self.hub.release()

    async def _fill(self) -> None:
        """Read what follows the position; if nothing, wait until there may be more."""
        held_wait = HELD_WAIT_MIN_SECONDS
        retry_wait = RETRY_MIN_SECONDS
        while not self._closed:
            self._wake.clear()  # before reading: a notification during the read counts
            try:
                async with self.hub.reading():
                    rows, held = await events_db.select_event_stream(
                        self.ctx.db, self.workspace_id, (self.position.txid, self.position.seq),
                        types=self.types, document_id=self.document_id,
                        entity_id=self.entity_id, limit=READ_BATCH)
            except AppError as error:  # the database is away: keep the place, try again
                (log.warning if retry_wait == RETRY_MIN_SECONDS else log.debug)(
                    "a subscription could not read events (%s); retrying in %.1f s",
                    error.code, retry_wait)
                await asyncio.sleep(retry_wait)
                retry_wait = min(retry_wait * 2, RETRY_MAX_SECONDS)
                continue
            retry_wait = RETRY_MIN_SECONDS
            if rows:
                events = [EventRecord.from_row(row) for row in rows]
                self._buffer.extend(events)
                self.position = events[-1].position
                return
            if held:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), held_wait)
                held_wait = min(held_wait * 2, HELD_WAIT_MAX_SECONDS)
            else:
                await self._wake.wait()
