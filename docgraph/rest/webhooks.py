"""Webhook endpoints and their deliveries.

* ``/v1/webhooks``: ``GET`` lists the workspace's endpoints, ``POST`` registers
  one (201, with its signing secret, shown this once).
* ``/v1/webhooks/{id}``: ``GET``, ``PATCH`` (url, event_types, description,
  enabled), ``DELETE``.
* ``POST /v1/webhooks/{id}/rotate-secret``: a new secret, shown once.
* ``GET /v1/webhooks/{id}/deliveries``: the endpoint's deliveries, newest
  first, each with its attempts (paged by cursor like ``GET /v1/events``).
* ``GET /v1/webhook-deliveries/{id}`` and ``POST .../retry``: one delivery,
  and one more attempt at it.

Every operation needs ``manage:webhooks``; registering and changing an
endpoint also ``read:documents``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import resources as r
from docgraph.resolvers import webhooks as webhooks_uc
from docgraph.resolvers.pagination import DEFAULT_PAGE_SIZE, PageRequest
from docgraph.rest import shapes
from docgraph.rest.operations import Operations, param
from docgraph.rest.parsing import integer, json_object
from docgraph.rest.shapes import respond

api = Operations()

ENDPOINT_ID = param("id", r.ID, "The endpoint's id.", where="path")
DELIVERY_ID = param("id", r.ID, "The delivery's id.", where="path")
_ENDPOINT = {200: ("The endpoint.", shapes.WEBHOOK_ENDPOINT_RESPONSE)}
_MANAGE = "Needs manage:webhooks."
_SENDS = "Needs manage:webhooks and read:documents (its deliveries carry what that scope reads)."


@api("GET", "/v1/webhooks", summary="The workspace's webhook endpoints, oldest first",
     operation_id="list_webhooks", tag="webhooks",
     responses={200: ("The endpoints.", shapes.WEBHOOK_ENDPOINT_LIST)}, errors=(403,),
     description=_MANAGE)
async def list_webhooks(request: Request, params: dict[str, str]) -> Response:
    endpoints = await webhooks_uc.list_endpoints(request_context(request))
    return JSONResponse(respond(shapes.WEBHOOK_ENDPOINT_LIST, data={"webhooks": endpoints}))


@api("POST", "/v1/webhooks", summary="Register a webhook endpoint",
     operation_id="create_webhook", tag="webhooks", body=r.WEBHOOK_ENDPOINT_CREATE,
     responses={201: ("The endpoint, and its signing secret (shown this once).",
                      shapes.WEBHOOK_ENDPOINT_WITH_SECRET_RESPONSE)},
     errors=(403, 409, 503),
     description="The workspace's events (of event_types; all when empty) are POSTed to url "
                 "from now on, as Standard Webhooks specifies. A URL whose host resolves to "
                 "a loopback, private, link-local or other non-public address: 400 "
                 "validation_error. " + _SENDS)
async def create_webhook(request: Request, params: dict[str, str]) -> Response:
    fields = await json_object(request)
    created = await webhooks_uc.create_endpoint(request_context(request), fields)
    return JSONResponse(respond(shapes.WEBHOOK_ENDPOINT_WITH_SECRET_RESPONSE, data=created),
                        status_code=201)


@api("GET", "/v1/webhooks/{id}", summary="A webhook endpoint", operation_id="get_webhook",
     tag="webhooks", params=(ENDPOINT_ID,), responses=_ENDPOINT, errors=(403,),
     description=_MANAGE)
async def get_webhook(request: Request, params: dict[str, str]) -> Response:
    endpoint = await webhooks_uc.require_endpoint(request_context(request),
                                                  request.path_params["id"])
    return JSONResponse(respond(shapes.WEBHOOK_ENDPOINT_RESPONSE, data=endpoint))


@api("PATCH", "/v1/webhooks/{id}", summary="Change a webhook endpoint",
     operation_id="update_webhook", tag="webhooks", params=(ENDPOINT_ID,),
     body=r.WEBHOOK_ENDPOINT_UPDATE, responses=_ENDPOINT, errors=(403, 503),
     description="enabled: false disables it (its pending deliveries wait); true enables it "
                 "again (they resume at once). " + _SENDS)
async def update_webhook(request: Request, params: dict[str, str]) -> Response:
    changes = await json_object(request)
    endpoint = await webhooks_uc.update_endpoint(request_context(request),
                                                 request.path_params["id"], changes)
    return JSONResponse(respond(shapes.WEBHOOK_ENDPOINT_RESPONSE, data=endpoint))


@api("DELETE", "/v1/webhooks/{id}", summary="Delete a webhook endpoint",
     operation_id="delete_webhook", tag="webhooks", params=(ENDPOINT_ID,),
     responses={200: ("The deleted endpoint.", shapes.DELETED_WEBHOOK_ENDPOINT_RESPONSE)},
     errors=(403,), description="Its deliveries and their attempts go with it. " + _MANAGE)
async def delete_webhook(request: Request, params: dict[str, str]) -> Response:
    deleted = await webhooks_uc.delete_endpoint(request_context(request),
                                                request.path_params["id"])
    return JSONResponse(respond(shapes.DELETED_WEBHOOK_ENDPOINT_RESPONSE, data=deleted))


@api("POST", "/v1/webhooks/{id}/rotate-secret", summary="A new signing secret",
     operation_id="rotate_webhook_secret", tag="webhooks", params=(ENDPOINT_ID,),
     responses={200: ("The endpoint, and its new secret (shown this once).",
                      shapes.WEBHOOK_ENDPOINT_WITH_SECRET_RESPONSE)}, errors=(403,),
     description="Deliveries are signed with the previous secret too (a second signature in "
                 "webhook-signature) for DOCGRAPH_WEBHOOK_SECRET_OVERLAP_SECONDS. " + _MANAGE)
async def rotate_webhook_secret(request: Request, params: dict[str, str]) -> Response:
    rotated = await webhooks_uc.rotate_secret(request_context(request),
                                              request.path_params["id"])
    return JSONResponse(respond(shapes.WEBHOOK_ENDPOINT_WITH_SECRET_RESPONSE, data=rotated))


@api("GET", "/v1/webhooks/{id}/deliveries",
     summary="A webhook endpoint's deliveries, newest first, with their attempts",
     operation_id="list_webhook_deliveries", tag="webhooks",
     params=(ENDPOINT_ID,
             param("status", r.DELIVERY_STATUS, "Only deliveries with this status."),
             param("per_page", r.PAGE_SIZE, "Deliveries per page, at most 100.",
                   default=DEFAULT_PAGE_SIZE),
             param("after", r.TEXT, "The `meta.next_cursor` of the page before.",
                   maxLength=200)),
     responses={200: ("One page of deliveries.", shapes.WEBHOOK_DELIVERY_LIST)},
     errors=(403,), description=_MANAGE)
async def list_webhook_deliveries(request: Request, params: dict[str, str]) -> Response:
    page = PageRequest.parse(integer(params.get("per_page")), params.get("after"),
                             names={"first": "per_page"})
    found = await webhooks_uc.list_deliveries(
        request_context(request), request.path_params["id"], page,
        status=params.get("status"), with_total=False)
    return JSONResponse(respond(
        shapes.WEBHOOK_DELIVERY_LIST, data={"deliveries": found.nodes},
        meta={"per_page": found.limit, "has_more": found.page_info.has_next_page,
              "next_cursor": found.page_info.end_cursor
              if found.page_info.has_next_page else None}))


@api("GET", "/v1/webhook-deliveries/{id}", summary="A webhook delivery, with its attempts",
     operation_id="get_webhook_delivery", tag="webhooks", params=(DELIVERY_ID,),
     responses={200: ("The delivery.", shapes.WEBHOOK_DELIVERY_RESPONSE)}, errors=(403,),
     description=_MANAGE)
async def get_webhook_delivery(request: Request, params: dict[str, str]) -> Response:
    delivery = await webhooks_uc.get_delivery(request_context(request),
                                              request.path_params["id"])
    return JSONResponse(respond(shapes.WEBHOOK_DELIVERY_RESPONSE, data=delivery))


@api("POST", "/v1/webhook-deliveries/{id}/retry", summary="Retry a webhook delivery now",
     operation_id="retry_webhook_delivery", tag="webhooks", params=(DELIVERY_ID,),
     responses={200: ("The delivery, due now.", shapes.WEBHOOK_DELIVERY_RESPONSE)},
     errors=(403, 409),
     description="One more attempt, whatever its status. Its endpoint disabled, or an attempt "
                 "at it in progress: 409 conflict. " + _MANAGE)
async def retry_webhook_delivery(request: Request, params: dict[str, str]) -> Response:
    delivery = await webhooks_uc.retry_delivery(request_context(request),
                                                request.path_params["id"])
    return JSONResponse(respond(shapes.WEBHOOK_DELIVERY_RESPONSE, data=delivery))
