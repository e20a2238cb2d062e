"""The audit trail: ``GET /v1/events``.

Newest first, in seed 000's ``{"data": {"events": [...]}, "meta": {...}}``
envelope, paged by cursor: ``meta.next_cursor`` goes back as ``after``
(``per_page`` at most 100). The filters are GraphQL's ``events(filter:)``
as query parameters: ``type``, ``document_id``, ``entity_id``, ``actor``,
``since`` (inclusive) and ``until`` (exclusive).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import events as events_uc
from docgraph.resolvers import resources as r
from docgraph.resolvers.pagination import DEFAULT_PAGE_SIZE, PageRequest
from docgraph.rest import shapes
from docgraph.rest.operations import Operations, param
from docgraph.rest.parsing import integer
from docgraph.rest.shapes import respond

api = Operations()

_FILTERS = tuple(param(a.name, a.field.kind, a.field.description or "")
                 for a in r.EVENT_FILTER.fields)


@api("GET", "/v1/events", summary="The audit trail: the workspace's events, newest first",
     operation_id="list_events", tag="events",
     params=(*_FILTERS,
             param("per_page", r.PAGE_SIZE, "Events per page, at most 100.",
                   default=DEFAULT_PAGE_SIZE),
             param("after", r.TEXT, "The `meta.next_cursor` of the page before.",
                   maxLength=200)),
     responses={200: ("One page of events, newest first.", shapes.EVENT_LIST)},
     errors=(403,),
     description="Every change to the workspace's documents, links and entities, kept "
                 "DOCGRAPH_EVENT_RETENTION_DAYS days. Needs read:documents.")
async def list_events(request: Request, params: dict[str, str]) -> Response:
    page = PageRequest.parse(integer(params.get("per_page")), params.get("after"),
                             names={"first": "per_page"})
    filters = {a.name: params[a.name] for a in r.EVENT_FILTER.fields if a.name in params}
    found = await events_uc.list_events(request_context(request), filters, page,
                                        with_total=False)
    return JSONResponse(respond(
        shapes.EVENT_LIST, data={"events": found.nodes},
        meta={"per_page": found.limit, "has_more": found.page_info.has_next_page,
              "next_cursor": found.page_info.end_cursor
              if found.page_info.has_next_page else None}))
