"""Webhook deliveries in the background: every instance dispatches and delivers.

One loop per worker process (``DOCGRAPH_WEBHOOK_CONCURRENCY`` > 0). It wakes

* at once when a change commits in a workspace that has an enabled endpoint
  (``LISTEN docgraph_events`` on a connection of its own; the payload names the
  workspace, whose new events it then queues); the loop knows those
  workspaces, reading them again when an endpoint is registered, enabled or
  disabled (a notification) and at every poll,
* when another instance queued deliveries (``docgraph_webhook_deliveries``),
* when one of its own attempts finishes (the next delivery of the same
  document may be due now),
* and every ``DOCGRAPH_WEBHOOK_POLL_SECONDS`` (±20 %) in any case, queueing
  the events of every workspace and looking for due retries: a notification
  missed (the listening connection was lost, say) only delays a delivery.

Each round it dispatches (``resolvers.webhook_delivery.dispatch``), then claims
as many due deliveries as it has free slots and makes their attempts as tasks,
at most ``DOCGRAPH_WEBHOOK_CONCURRENCY`` at once. Whichever instance is free
claims the next delivery; one that dies mid-attempt only delays it (its claim
is a lease).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from typing import Any

from docgraph.errors import AppError
from docgraph.resolvers import webhook_delivery
from docgraph.resolvers.context import Services

log = logging.getLogger("docgraph.jobs.webhooks")

ERROR_PAUSE_SECONDS = 1.0


class WebhookWorker:
    def __init__(self, services: Services) -> None:
        self.db = services.db
        self.settings = services.settings
        self.slots = services.settings.webhook_concurrency
        self._wake = asyncio.Event()
        # Workspaces that have an enabled endpoint (None: not known yet): a commit in
        # another workspace wakes nothing, so a deployment without webhooks sends no
        # statement per change.
        self._hooked: set[uuid.UUID] | None = None
        self._refresh = True
        # Workspaces whose new events wait to be queued; None: every workspace.
        self._dirty: set[uuid.UUID] | None = None
        self._claim = True
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- wake-ups (called from the listener's callbacks) --

    def _event(self, payload: str) -> None:
        try:
            workspace = uuid.UUID(payload)
        except ValueError:
            return
        if self._hooked is not None and workspace not in self._hooked:
            return
        if self._dirty is not None:
            self._dirty.add(workspace)
        self._wake.set()

    def _deliveries(self) -> None:
        self._claim = True
        self._wake.set()

    def _endpoints(self) -> None:
        self._refresh = True
        self._dirty = None
        self._wake.set()

    def _connected(self) -> None:
        self._endpoints()  # and what happened while nobody listened
        self._claim = True

    # -- the loop --

    async def run(self) -> None:
        sender = webhook_delivery.Sender(self.settings)
        listener = asyncio.create_task(
            webhook_delivery.listen(self.db, self._event, self._deliveries, self._endpoints,
                                    self._connected),
            name="webhook-listener")
        try:
            await self._loop(sender)
        finally:
            listener.cancel()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(listener, *self._tasks, return_exceptions=True)
            await sender.aclose()

    async def _loop(self, sender: webhook_delivery.Sender) -> None:
        poll = self.settings.webhook_poll_seconds
        while True:
            try:
                async with asyncio.timeout(poll * random.uniform(0.8, 1.2)):  # noqa: S311
                    await self._wake.wait()
            except TimeoutError:
                self._endpoints()
                self._claim = True
            self._wake.clear()
            try:
                await self._round(sender)
            except AppError as exc:
                log.warning("webhook round failed: %s: %s", exc.code, exc.message)
                self._connected()
                await asyncio.sleep(ERROR_PAUSE_SECONDS)
            except Exception:
                log.exception("webhook round failed")
                self._connected()
                await asyncio.sleep(ERROR_PAUSE_SECONDS)

    async def _round(self, sender: webhook_delivery.Sender) -> None:
        if self._refresh:
            self._refresh = False
            self._hooked = await webhook_delivery.hooked_workspaces(self.db)
        dirty, self._dirty = self._dirty, set()
        if (dirty is None or dirty) and await webhook_delivery.dispatch(
                self.db, None if dirty is None else sorted(dirty)):
            self._claim = True
        if self._claim:
            self._claim = False
            await self._start_due(sender)

    async def _start_due(self, sender: webhook_delivery.Sender) -> None:
        free = self.slots - len(self._tasks)
        if free <= 0:
            return  # a task that ends asks again
        for claimed in await webhook_delivery.claim(self.db, self.settings, free):
            task = asyncio.create_task(self._deliver(sender, claimed),
                                       name=f"webhook-{claimed.delivery_id}")
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._claim = True  # a slot is free, and what waited for this delivery may be due
        self._wake.set()

    async def _deliver(self, sender: webhook_delivery.Sender,
                       claimed: webhook_delivery.Claimed) -> None:
        extra = {"delivery_id": str(claimed.delivery_id), "attempt": claimed.attempt}
        try:
            outcome = await webhook_delivery.deliver(self.db, sender, claimed)
        except AppError as exc:  # recording it failed: the lease ends, another attempt
            log.warning("webhook attempt not recorded: %s: %s", exc.code, exc.message,
                        extra=extra)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook attempt failed", extra=extra)
            return
        if not outcome.succeeded:
            log.info("webhook attempt failed: %s", outcome.summary, extra=extra)
