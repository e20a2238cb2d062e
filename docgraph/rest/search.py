"""Full-text search and the extracted text (issue 19).

* ``GET /v1/documents/search?q=...``: the workspace's documents matching the
  query and the filters, best first, as seed 002's records with ``rank`` and
  ``snippet``, in seed 000's ``{"data": {"documents"}, "meta": {"page",
  "per_page", "total"}}`` envelope. Its route comes before
  ``/v1/documents/{id}``, which would otherwise take ``search`` for an id.
* ``GET /v1/documents/{id}/text``: the text extracted from a document.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import resources as r
from docgraph.resolvers import search as search_uc
from docgraph.resolvers import texts as texts_uc
from docgraph.resolvers.fields import Kind
from docgraph.resolvers.pagination import PageRequest
from docgraph.rest import shapes
from docgraph.rest.operations import Operations, param
from docgraph.rest.parsing import integer
from docgraph.rest.shapes import respond

api = Operations()

SEARCH_PER_PAGE = 25  # seed 000's default
_TEXT = Kind(r.GraphQLType.STRING, {"type": "string"})
_FILTERS = {a.name: a for a in r.DOCUMENT_FILTER.fields}


def _filter_param(name: str, description: str | None = None, **schema: Any) -> Any:
    field = _FILTERS[name].field
    return param(name, field.kind if not schema else _TEXT, description or field.description
                 or "", **schema)


@api("GET", "/v1/documents/search", summary="Search documents (full text)",
     operation_id="search_documents", tag="documents",
     params=(param("q", r.QUERY, "What to look for: words (all must be there), \"quoted "
                                 "phrases\", -excluded words, or between alternatives.",
                   required=True),
             param("page", r.COUNT, "Page number.", minimum=1, default=1),
             param("per_page", r.PAGE_SIZE, "Results per page, at most 100.",
                   default=SEARCH_PER_PAGE),
             _filter_param("folder"),
             param("include_subfolders", r.BOOLEAN, "With folder: its subfolders' documents "
                                                    "too (true or false)."),
             _filter_param("tags", "Documents carrying all these tags, comma-separated.",
                           maxLength=4000),
             _filter_param("type"), _filter_param("status"), _filter_param("mime_type"),
             _filter_param("name_contains"),
             param("entity_type", r.ENTITY_TYPE, "With entity_id: documents linked to this "
                                                 "entity."),
             param("entity_id", r.ID, "With entity_type: documents linked to this entity."),
             _filter_param("created_after"), _filter_param("created_before")),
     responses={200: ("One page of the documents found, best first.",
                      shapes.SEARCH_RESULT_LIST)}, errors=(403,),
     description="Searches names (a misspelt or partial name matches too), tags, folders, "
                 "descriptions and the text inside the files; every filter combines with the "
                 "query.")
async def search_documents(request: Request, params: dict[str, str]) -> Response:
    number = integer(params.get("page"))
    numbered = PageRequest.parse_page_number(number, integer(params.get("per_page")),
                                             default_per_page=SEARCH_PER_PAGE)
    page = search_uc.SearchPage(limit=numbered.limit, offset=numbered.offset)
    filters: dict[str, Any] = {}
    for name in ("folder", "type", "status", "mime_type", "name_contains", "created_after",
                 "created_before"):
        if name in params:
            filters[name] = params[name]
    if "include_subfolders" in params:
        given = params["include_subfolders"]
        filters["include_subfolders"] = {"true": True, "false": False}.get(given, given)
    if "tags" in params:
        filters["tags"] = [t.strip() for t in params["tags"].split(",")]
    if "entity_type" in params or "entity_id" in params:
        filters["linked_to"] = {"entity_type": params.get("entity_type"),
                                "entity_id": params.get("entity_id")}
    found = await search_uc.search_documents(request_context(request), params.get("q"),
                                             filters, page)
    return JSONResponse(respond(
        shapes.SEARCH_RESULT_LIST, data={"documents": found.edges},
        meta={"page": number if isinstance(number, int) else 1, "per_page": page.limit,
              "total": found.total_count}))


@api("GET", "/v1/documents/{id}/text", summary="The text extracted from a document",
     operation_id="document_text", tag="documents",
     params=(param("id", r.ID, "The document's id.", where="path"),),
     responses={200: ("Where the extraction stands, and the text once done.",
                      shapes.DOCUMENT_TEXT_RESPONSE)}, errors=(403,))
async def document_text(request: Request, params: dict[str, str]) -> Response:
    ctx = request_context(request)
    document = await documents_uc.require_document(ctx, request.path_params["id"])
    text = await texts_uc.document_text(ctx, document)
    return JSONResponse(respond(shapes.DOCUMENT_TEXT_RESPONSE, data=shapes.DocumentText(
        document.id, document.text_status.value, document.text_length,
        document.text_status_reason, text)))
