"""Webhook endpoints and their deliveries: what GraphQL, REST and the CLI do with them.

Scopes: every operation needs ``manage:webhooks``. Registering an endpoint and
changing one (its URL, its event types, enabling it) also need
``read:documents``: its deliveries carry what that scope reads, so a key
without it must not be able to send them anywhere. The command line works on
any workspace (``register_endpoint`` and the other functions taking a
database).

An endpoint's signing secret is made here (``whsec_`` and the base64 of 32
random bytes) and shown once, in the answer that created (or rotated) it. A
rotation keeps the previous secret signing too for
``DOCGRAPH_WEBHOOK_SECRET_OVERLAP_SECONDS``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from docgraph.config import Settings
from docgraph.db import webhooks as webhooks_db
from docgraph.db.database import Database, Executor
from docgraph.errors import Conflict, NotFound
from docgraph.resolvers import resources, webhook_urls
from docgraph.resolvers import validation as v
from docgraph.resolvers.auth import MANAGE_WEBHOOKS, READ_DOCUMENTS
from docgraph.resolvers.pagination import Edge, PageRequest, build_page
from docgraph.resolvers.records import (
    DeletedWebhookEndpoint,
    DeliveryStatus,
    Page,
    WebhookAttemptRecord,
    WebhookDeliveryRecord,
    WebhookEndpointRecord,
    WebhookSecret,
)
from docgraph.resolvers.webhook_delivery import new_secret, secret_text

if TYPE_CHECKING:
    from docgraph.resolvers.context import RequestContext

# Endpoints one workspace may have.
MAX_ENDPOINTS = 50


def _manage(ctx: RequestContext, *, sends: bool = False) -> None:
    ctx.principal.require(MANAGE_WEBHOOKS)
    if sends:
        ctx.principal.require(READ_DOCUMENTS)


def _endpoint_not_found() -> NotFound:
    return NotFound("No such webhook endpoint.")


def _delivery_not_found() -> NotFound:
    return NotFound("No such webhook delivery.")


async def _check_url(settings: Settings, url: str) -> None:
    await webhook_urls.check_url(url, allow_private=settings.webhook_allow_private_addresses,
                                 within=settings.webhook_timeout_seconds)


# -- endpoints -----------------------------------------------------------------------------


async def register_endpoint(db: Database, settings: Settings, workspace_id: uuid.UUID,
                            fields: Mapping[str, Any]) -> WebhookSecret:
    """A new endpoint of the workspace (``resources.WEBHOOK_ENDPOINT_CREATE``), and its
    secret. It gets the events committed from now on."""
    new = resources.WEBHOOK_ENDPOINT_CREATE.parse(fields)
    await _check_url(settings, new["url"])
    secret = new_secret()
    row = await webhooks_db.insert_endpoint(
        db, workspace_id, uuid.uuid4(), url=new["url"], event_types=new.get("event_types", []),
        description=new.get("description"), secret=secret, max_endpoints=MAX_ENDPOINTS)
    if row is None:
        raise Conflict(f"A workspace has at most {MAX_ENDPOINTS} webhook endpoints; delete "
                       "one first.", details={"max_endpoints": MAX_ENDPOINTS})
    return WebhookSecret(WebhookEndpointRecord.from_row(row), secret_text(secret))


async def create_endpoint(ctx: RequestContext, fields: Mapping[str, Any]) -> WebhookSecret:
    """Register an endpoint (needs manage:webhooks and read:documents)."""
    _manage(ctx, sends=True)
    return await register_endpoint(ctx.db, ctx.settings, ctx.workspace_id, fields)


async def endpoints_of(db: Executor, workspace_id: uuid.UUID) -> list[WebhookEndpointRecord]:
    """Every endpoint of the workspace, oldest first."""
    return [WebhookEndpointRecord.from_row(row)
            for row in await webhooks_db.select_endpoints(db, workspace_id)]


async def list_endpoints(ctx: RequestContext) -> list[WebhookEndpointRecord]:
    _manage(ctx)
    return await endpoints_of(ctx.db, ctx.workspace_id)


async def get_endpoint(ctx: RequestContext, endpoint_id: Any) -> WebhookEndpointRecord | None:
    """One endpoint of the caller's workspace, or None."""
    _manage(ctx)
    ident = v.check("id", v.identifier, endpoint_id)
    row = await webhooks_db.select_endpoint(ctx.db, ctx.workspace_id, ident)
    return WebhookEndpointRecord.from_row(row) if row is not None else None


async def require_endpoint(ctx: RequestContext, endpoint_id: Any) -> WebhookEndpointRecord:
    """Like :func:`get_endpoint`, but an unknown endpoint is ``NotFound``."""
    endpoint = await get_endpoint(ctx, endpoint_id)
    if endpoint is None:
        raise _endpoint_not_found()
    return endpoint


async def update_endpoint(ctx: RequestContext, endpoint_id: Any,
                          changes: Mapping[str, Any]) -> WebhookEndpointRecord:
    """Change an endpoint's URL, event types, description, or whether it is enabled
    (needs manage:webhooks and read:documents). No change answers it as it is."""
    _manage(ctx, sends=True)
    ident = v.check("id", v.identifier, endpoint_id)
    cleaned = resources.WEBHOOK_ENDPOINT_UPDATE.parse(changes)
    if not cleaned:
        return await require_endpoint(ctx, ident)
    if "url" in cleaned:
        await _check_url(ctx.settings, cleaned["url"])
    row = await webhooks_db.update_endpoint(
        ctx.db, ctx.workspace_id, ident, url=cleaned.get("url"),
        event_types=cleaned.get("event_types"), set_description="description" in cleaned,
        description=cleaned.get("description"), enabled=cleaned.get("enabled"),
        disabled_reason=f"Disabled by API key {ctx.principal.key_id}.")
    if row is None:
        raise _endpoint_not_found()
    return WebhookEndpointRecord.from_row(row)


async def remove_endpoint(db: Executor, workspace_id: uuid.UUID,
                          endpoint_id: uuid.UUID) -> DeletedWebhookEndpoint:
    """Delete an endpoint, its deliveries and their attempts."""
    row = await webhooks_db.delete_endpoint(db, workspace_id, endpoint_id)
    if row is None:
        raise _endpoint_not_found()
    return DeletedWebhookEndpoint(row["id"], row["deleted_at"])


async def delete_endpoint(ctx: RequestContext, endpoint_id: Any) -> DeletedWebhookEndpoint:
    _manage(ctx)
    return await remove_endpoint(ctx.db, ctx.workspace_id,
                                 v.check("id", v.identifier, endpoint_id))


async def new_endpoint_secret(db: Executor, settings: Settings, workspace_id: uuid.UUID,
                              endpoint_id: uuid.UUID) -> WebhookSecret:
    """A new secret for the endpoint, shown once; the previous one signs too for
    ``DOCGRAPH_WEBHOOK_SECRET_OVERLAP_SECONDS``."""
    secret = new_secret()
    row = await webhooks_db.rotate_secret(db, workspace_id, endpoint_id, secret,
                                          settings.webhook_secret_overlap_seconds)
    if row is None:
        raise _endpoint_not_found()
    return WebhookSecret(WebhookEndpointRecord.from_row(row), secret_text(secret))


async def rotate_secret(ctx: RequestContext, endpoint_id: Any) -> WebhookSecret:
    _manage(ctx)
    return await new_endpoint_secret(ctx.db, ctx.settings, ctx.workspace_id,
                                     v.check("id", v.identifier, endpoint_id))


# -- deliveries ----------------------------------------------------------------------------


async def _with_attempts(db: Executor, workspace_id: uuid.UUID,
                         deliveries: Sequence[WebhookDeliveryRecord]) -> None:
    by_id = {delivery.id: delivery for delivery in deliveries}
    for row in await webhooks_db.select_attempts(db, workspace_id, list(by_id)):
        by_id[row["delivery_id"]].attempts.append(WebhookAttemptRecord.from_row(row))


async def list_deliveries(ctx: RequestContext, endpoint_id: Any, page: PageRequest, *,
                          status: Any = None, with_total: bool = True,
                          check_endpoint: bool = True) -> Page[Edge[WebhookDeliveryRecord]]:
    """An endpoint's deliveries, newest first, each with its attempts; only those of
    ``status`` if given. ``check_endpoint``: an unknown endpoint is ``NotFound``
    (rather than an empty page)."""
    _manage(ctx)
    ident = v.check("id", v.identifier, endpoint_id)
    wanted = v.check("status", v.nullable(v.choice(DeliveryStatus)), status)
    page = page.in_order()
    if check_endpoint and await webhooks_db.select_endpoint(
            ctx.db, ctx.workspace_id, ident) is None:
        raise _endpoint_not_found()
    after = None
    if page.after_created_at is not None and page.after_id is not None:
        after = (page.after_created_at, page.after_id)
    rows = await webhooks_db.select_delivery_page(
        ctx.db, ctx.workspace_id, ident, status=wanted.value if wanted else None, after=after,
        offset=page.offset, limit=page.limit, with_total=with_total)
    deliveries = [WebhookDeliveryRecord.from_row(row) for row in rows if row["id"] is not None]
    await _with_attempts(ctx.db, ctx.workspace_id, deliveries[:page.limit])
    return build_page(page, [Edge(d) for d in deliveries], total_count=rows[0]["total_count"],
                      has_preceding=rows[0]["has_preceding"])


async def get_delivery(ctx: RequestContext, delivery_id: Any) -> WebhookDeliveryRecord:
    """One delivery of the caller's workspace, with its attempts (``NotFound`` if none)."""
    _manage(ctx)
    ident = v.check("id", v.identifier, delivery_id)
    row = await webhooks_db.select_delivery(ctx.db, ctx.workspace_id, ident)
    if row is None:
        raise _delivery_not_found()
    delivery = WebhookDeliveryRecord.from_row(row)
    await _with_attempts(ctx.db, ctx.workspace_id, [delivery])
    return delivery


async def retry_delivery(ctx: RequestContext, delivery_id: Any) -> WebhookDeliveryRecord:
    """Make a delivery due now, whatever its status: one more attempt (and, while it is
    within its retry horizon, retries after it). Its endpoint must be enabled, and no
    attempt at it in progress (``Conflict``)."""
    _manage(ctx)
    ident = v.check("id", v.identifier, delivery_id)
    found = await webhooks_db.select_delivery(ctx.db, ctx.workspace_id, ident)
    if found is None:
        raise _delivery_not_found()
    if not found["endpoint_enabled"]:
        raise Conflict("The delivery's endpoint is disabled: enable it first (its pending "
                       "deliveries then resume by themselves).")
    row = None if found["in_flight"] else await webhooks_db.retry_delivery(
        ctx.db, ctx.workspace_id, ident)
    if row is None:
        raise Conflict("An attempt at this delivery is in progress.")
    delivery = WebhookDeliveryRecord.from_row(row)
    await _with_attempts(ctx.db, ctx.workspace_id, [delivery])
    return delivery
