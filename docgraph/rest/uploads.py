"""The signed-upload step of seed 002, and signed download URLs.

* ``POST /v1/documents/upload-url`` (201): ``file_name``, ``mime_type``,
  ``size_bytes`` and optionally ``sha256``; answers where and how to PUT the
  bytes: ``{"data": {"upload_url", "method", "headers", "storage_path",
  "expires_at"}}``. ``POST /v1/documents`` then records the document at
  ``storage_path``.
* ``GET /v1/documents/{id}/download-url?expires_in=``: a signed URL that
  serves the document's bytes, ``{"data": {"url", "expires_at"}}``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import uploads as uploads_uc
from docgraph.rest import shapes
from docgraph.rest.parsing import integer, json_object, query


async def request_upload_url(request: Request) -> Response:
    query(request, ())
    fields = await json_object(request)
    ticket = await uploads_uc.request_upload_url(request_context(request), fields)
    return JSONResponse({"data": shapes.upload_ticket(ticket)}, status_code=201)


async def download_url(request: Request) -> Response:
    params = query(request, ("expires_in",))
    ctx = request_context(request)
    document = await documents_uc.require_document(ctx, request.path_params["id"])
    signed = documents_uc.download_url(ctx, document, integer(params.get("expires_in")))
    return JSONResponse({"data": shapes.signed_url(signed)})
