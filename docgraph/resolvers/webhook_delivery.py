"""Webhook deliveries: turning events into deliveries, attempts, signatures, results.

The background side of webhooks (``jobs.webhooks`` runs it on every instance):

* :func:`dispatch`: the dispatcher's rounds (``db.webhooks.FAN_OUT``): every
  new event queued once per endpoint that wants its type, in the outbox's order.
* :func:`claim`: due deliveries claimed by this instance (a lease; attempts
  counted and recorded as they start).
* :class:`Sender`: one attempt, following the Standard Webhooks specification
  (https://www.standardwebhooks.com): a POST of the JSON payload with
  ``webhook-id`` (the event's id, the same on every attempt),
  ``webhook-timestamp`` (this attempt's Unix time) and ``webhook-signature``
  (``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` with the
  endpoint's secret; during a rotation's overlap, the previous secret's too,
  space-separated). The URL is checked again after resolving it, and the
  request goes to the address checked; redirects are not followed.
* :func:`deliver`: an attempt and its result: 2xx delivers; anything else
  (another status, a timeout, a refused or failed connection) is retried with
  exponential backoff and jitter until the retry horizon, the later deliveries
  of the same object waiting; 410 Gone, or failing for
  ``DOCGRAPH_WEBHOOK_DISABLE_AFTER_SECONDS``, disables the endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx
import orjson

from docgraph.config import Settings
from docgraph.db import events as events_db
from docgraph.db import listen as listen_db
from docgraph.db import webhooks as webhooks_db
from docgraph.db.database import Database
from docgraph.errors import Unavailable
from docgraph.resolvers import webhook_urls
from docgraph.resolvers.records import EventRecord

log = logging.getLogger("docgraph.webhooks")

SECRET_PREFIX = "whsec_"  # noqa: S105 - the specification's prefix, not a secret
SECRET_BYTES = 32
USER_AGENT = "docgraph-webhooks/1"
# The part of an answer's body an attempt keeps (bytes read, then characters kept).
RESPONSE_EXCERPT = 1024
ERROR_MAX = 1000
# A dispatcher's round: endpoints locked, and events read for each; rounds per dispatch.
FAN_OUT_ENDPOINTS = 50
FAN_OUT_EVENTS = 500
MAX_ROUNDS = 20
EVENTS_CHANNEL = events_db.CHANNEL
DELIVERIES_CHANNEL = webhooks_db.DELIVERIES_CHANNEL


# -- secrets and signatures ---------------------------------------------------------------


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def secret_text(secret: bytes) -> str:
    """A secret as shown to its owner: ``whsec_`` and its base64 (the specification's)."""
    return SECRET_PREFIX + base64.b64encode(secret).decode()


def signature(secret: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(keys: Iterable[bytes], message_id: str, timestamp: int,
                     body: bytes) -> str:
    """The ``webhook-signature`` header: one signature per secret, space-separated."""
    return " ".join(signature(key, message_id, timestamp, body) for key in keys)


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def payload(workspace_id: uuid.UUID, event: EventRecord) -> bytes:
    """The body of an event's deliveries: the specification's ``{type, timestamp,
    data}`` (``data``: the event's data, as the audit trail shows it), with the event's
    id, workspace and actor beside them. The same bytes on every attempt."""
    return orjson.dumps({
        "id": event.id,
        "type": event.type,
        "timestamp": _time(event.occurred_at),
        "workspaceId": str(workspace_id),
        "actor": event.actor,
        "data": event.data,
    })


# -- the schedule -------------------------------------------------------------------------


def lease_seconds(settings: Settings) -> float:
    """How long a claimed delivery is held: longer than an attempt may take."""
    return 2 * settings.webhook_timeout_seconds + 10.0


def retry_delay(settings: Settings, attempt: int, *, retry_after: float | None = None,
                rng: random.Random | None = None) -> float:
    """The wait after failed attempt number ``attempt``: the first retry's wait,
    doubled per attempt since, capped, ±25 % jitter; at least what the endpoint asked
    for (``Retry-After``, within the cap)."""
    base = settings.webhook_retry_seconds * 2.0 ** min(max(attempt - 1, 0), 62)
    delay = min(base, settings.webhook_retry_max_seconds)
    delay *= (rng or random).uniform(0.75, 1.25)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.webhook_retry_max_seconds))
    return delay


def schedule(settings: Settings) -> list[float]:
    """When (seconds after queueing, jitter left out) a delivery's attempts are made if
    every one fails: the first at once, then after each failure made before the retry
    horizon, one more (``RECORD_FAILURE``); the last is at or past the horizon."""
    times, at, attempt = [0.0], 0.0, 1
    while at < settings.webhook_retry_horizon_seconds:
        at += min(settings.webhook_retry_seconds * 2.0 ** min(attempt - 1, 62),
                  settings.webhook_retry_max_seconds)
        times.append(at)
        attempt += 1
    return times


def duration_text(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


# -- the dispatcher -----------------------------------------------------------------------


async def dispatch(db: Database, workspace_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Queue the deliveries of every new event (of these workspaces, or all): rounds of
    ``FAN_OUT`` until one reads nothing; how many deliveries were queued."""
    queued = 0
    for _ in range(MAX_ROUNDS):
        row = await webhooks_db.fan_out(db, workspace_ids, endpoints=FAN_OUT_ENDPOINTS,
                                        events=FAN_OUT_EVENTS)
        queued += row["queued"]
        # Fewer events than one endpoint may read, of fewer endpoints than a round
        # takes: every endpoint read all it had (those another instance held are its).
        if row["read"] < FAN_OUT_EVENTS and row["endpoints"] < FAN_OUT_ENDPOINTS:
            break
    return queued


async def hooked_workspaces(db: Database) -> set[uuid.UUID]:
    """The workspaces that have an enabled endpoint: only their events are dispatched
    as they are notified (others', at the poll, find nothing to do)."""
    return set(await webhooks_db.select_hooked_workspaces(db))


async def listen(db: Database, on_event: Callable[[str], None],
                 on_deliveries: Callable[[], None], on_endpoints: Callable[[], None],
                 on_connect: Callable[[], None]) -> None:
    """Until cancelled: ``on_event(workspace_id)`` at each commit that wrote events,
    ``on_deliveries()`` when a dispatcher queued deliveries, ``on_endpoints()`` when
    an endpoint was registered, enabled or disabled, ``on_connect()`` after each
    (re)connection (notifications may have been missed before it)."""
    if db.url is None:
        raise RuntimeError("the database's URL is unknown: nothing to listen on")

    def notified(channel: str, payload: str) -> None:
        if channel == EVENTS_CHANNEL:
            on_event(payload)
        elif payload == webhooks_db.ENDPOINTS_CHANGED:
            on_endpoints()
        else:
            on_deliveries()

    await listen_db.listen(db.url, [EVENTS_CHANNEL, DELIVERIES_CHANNEL], notified, on_connect)


async def purge_old_deliveries(db: Database, retention_days: int, *,
                               now: dt.datetime | None = None, batch: int = 1_000,
                               max_batches: int = 100) -> int:
    """Delete the deliveries (and their attempts) queued longer ago than the events'
    retention, ``batch`` per statement; how many."""
    before = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    purged = 0
    for _ in range(max_batches):
        done = await webhooks_db.purge_deliveries(db, before, batch)
        purged += done
        if done < batch:
            break
    return purged


# -- attempts -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this instance holds, with what its attempt needs."""

    workspace_id: uuid.UUID
    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    attempt: int
    url: str
    secret: bytes
    previous_secret: bytes | None
    event: EventRecord | None  # None: purged by the retention meanwhile

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Claimed:
        return cls(workspace_id=row["workspace_id"], delivery_id=row["delivery_id"],
                   endpoint_id=row["endpoint_id"], attempt=row["attempt"], url=row["url"],
                   secret=bytes(row["secret"]),
                   previous_secret=bytes(row["previous_secret"])
                   if row["previous_secret"] is not None else None,
                   event=EventRecord.from_row(row) if row["seq"] is not None else None)


async def claim(db: Database, settings: Settings, limit: int) -> list[Claimed]:
    """Up to ``limit`` due deliveries, held for this instance (see ``CLAIM_DUE``)."""
    rows = await webhooks_db.claim_due(db, lease_seconds=lease_seconds(settings), limit=limit)
    return [Claimed.from_row(row) for row in rows]


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    succeeded: bool
    duration_ms: int
    status: int | None = None
    body: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def gone(self) -> bool:
        return self.status == 410

    @property
    def summary(self) -> str:
        if self.status is not None:
            return f"HTTP {self.status}"
        return self.error or "no answer"


def _excerpt(raw: bytes) -> str | None:
    if not raw:
        return None
    return raw.decode("utf-8", errors="replace").replace("\x00", "")[:RESPONSE_EXCERPT]


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def _error(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[:ERROR_MAX - 1] + "…"


class Sender:
    """Makes attempts: one HTTP client per process (its connections reused), no
    redirects followed, no proxy from the environment (the address checked is the one
    connected to)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        limits = httpx.Limits(max_connections=max(1, settings.webhook_concurrency),
                              max_keepalive_connections=max(1, settings.webhook_concurrency))
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_seconds), limits=limits,
            follow_redirects=False, trust_env=False)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def attempt(self, claimed: Claimed) -> Outcome:
        """One attempt at ``claimed``: never raises for what the endpoint does."""
        settings = self.settings
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        if claimed.event is None:
            return Outcome(False, took(), error="The event is past its retention and was "
                                                "purged: nothing to deliver.")
        event = claimed.event
        body = payload(claimed.workspace_id, event)
        keys = [claimed.secret]
        if claimed.previous_secret is not None:
            keys.append(claimed.previous_secret)
        timeout = settings.webhook_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                target = await webhook_urls.destination(
                    claimed.url, allow_private=settings.webhook_allow_private_addresses,
                    within=timeout)
                timestamp = int(time.time())
                headers = {
                    "host": target.host_header,
                    "content-type": "application/json",
                    "accept-encoding": "identity",
                    "user-agent": USER_AGENT,
                    "webhook-id": event.id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": signature_header(keys, event.id, timestamp, body),
                }
                extensions = {}
                if target.scheme == "https" and str(target.address) != target.host:
                    extensions["sni_hostname"] = target.host
                async with self.client.stream("POST", target.connect_url, content=body,
                                              headers=headers,
                                              extensions=extensions) as response:
                    raw = b""
                    async for chunk in response.aiter_raw():
                        raw += chunk
                        if len(raw) >= RESPONSE_EXCERPT:
                            break
                    status = response.status_code
                    retry_after = _retry_after(response.headers.get("retry-after"))
        except webhook_urls.Refused as exc:
            return Outcome(False, took(), error=_error(f"Refused: {exc.message}."))
        except TimeoutError:
            return Outcome(False, took(), error=f"No answer within {timeout:g} s.")
        except Unavailable as exc:
            return Outcome(False, took(), error=_error(exc.message))
        except httpx.HTTPError as exc:
            reason = str(exc) or exc.__class__.__name__
            return Outcome(False, took(), error=_error(f"{exc.__class__.__name__}: {reason}"))
        except OSError as exc:
            return Outcome(False, took(), error=_error(f"{exc.__class__.__name__}: {exc}"))
        return Outcome(200 <= status < 300, took(), status=status, body=_excerpt(raw),
                       retry_after=retry_after if status in (429, 503) else None)


async def record(db: Database, settings: Settings, claimed: Claimed, outcome: Outcome, *,
                 rng: random.Random | None = None) -> None:
    """Record an attempt's outcome and what follows from it (see ``RECORD_SUCCESS``,
    ``RECORD_FAILURE``)."""
    if outcome.succeeded:
        await webhooks_db.record_success(
            db, claimed.workspace_id, claimed.endpoint_id, claimed.delivery_id,
            claimed.attempt, duration_ms=outcome.duration_ms, response_status=outcome.status,
            response_body=outcome.body)
        return
    if outcome.gone:
        reason = "The endpoint answered 410 Gone: it asked for no more deliveries."
    else:
        reason = (f"Every delivery attempt failed for more than "
                  f"{duration_text(settings.webhook_disable_after_seconds)}; the last: "
                  f"{outcome.summary}.")
    result = await webhooks_db.record_failure(
        db, claimed.workspace_id, claimed.endpoint_id, claimed.delivery_id, claimed.attempt,
        duration_ms=outcome.duration_ms, response_status=outcome.status,
        response_body=outcome.body, error=outcome.error, gone=outcome.gone,
        disabled_reason=_error(reason),
        retry_in_seconds=retry_delay(settings, claimed.attempt,
                                     retry_after=outcome.retry_after, rng=rng),
        horizon_seconds=settings.webhook_retry_horizon_seconds,
        disable_after_seconds=settings.webhook_disable_after_seconds)
    if result["disabled"]:
        log.warning("webhook endpoint disabled: %s", reason,
                    extra={"endpoint_id": str(claimed.endpoint_id)})


async def deliver(db: Database, sender: Sender, claimed: Claimed) -> Outcome:
    """One attempt at a claimed delivery, and its result recorded."""
    outcome = await sender.attempt(claimed)
    await record(db, sender.settings, claimed, outcome)
    return outcome
