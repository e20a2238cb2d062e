"""The signed-upload step of seed 002, and signed download URLs.

* ``POST /v1/documents/upload-url`` (201): ``file_name``, ``mime_type``,
  ``size_bytes`` and optionally ``sha256``; answers where and how to PUT the
  bytes: ``{"data": {"upload_url", "method", "headers", "storage_path",
  "expires_at"}}``. ``POST /v1/documents`` then records the document at
  ``storage_path``.
* ``GET /v1/documents/{id}/download-url?expires_in=``: a signed URL that
  serves the document's bytes, ``{"data": {"url", "expires_at"}}``; 409
  ``document_not_clean`` while no virus scan found them clean.
* ``GET /v1/documents/{id}/file``: what docgraph found in the bytes (detected
  type, virus scan, a PDF's page count), ``{"data": {...}}``: not a seed's
  shape (the seeds' document shapes allow no field beyond their own).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import request_context
from docgraph.http.responses import JSONResponse
from docgraph.resolvers import documents as documents_uc
from docgraph.resolvers import resources as r
from docgraph.resolvers import uploads as uploads_uc
from docgraph.rest import shapes
from docgraph.rest.documents import DOCUMENT_ID
from docgraph.rest.operations import Operations, param
from docgraph.rest.parsing import integer, json_object
from docgraph.rest.shapes import respond

api = Operations()


@api("POST", "/v1/documents/upload-url",
     summary="Get a signed URL to upload a file's bytes to (seed 002's signed-upload step)",
     operation_id="request_upload_url", tag="documents", body=r.UPLOAD_REQUEST,
     responses={201: ("Where and how to PUT the bytes.", shapes.UPLOAD_TICKET_RESPONSE)},
     errors=(403,),
     description="The size counts toward the workspace's quota from now on (413 "
                 "quota_exceeded beyond it); 503 while object storage is down.")
async def request_upload_url(request: Request, params: dict[str, str]) -> Response:
    fields = await json_object(request)
    ticket = await uploads_uc.request_upload_url(request_context(request), fields)
    return JSONResponse(respond(shapes.UPLOAD_TICKET_RESPONSE, data=ticket), status_code=201)


@api("GET", "/v1/documents/{id}/download-url",
     summary="Get a signed URL that serves a document's bytes",
     operation_id="document_download_url", tag="documents",
     params=(DOCUMENT_ID, param(
         "expires_in", r.COUNT, "Lifetime in seconds (default "
         "DOCGRAPH_DOWNLOAD_URL_SECONDS, at most DOCGRAPH_DOWNLOAD_URL_MAX_SECONDS).",
         minimum=1)),
     responses={200: ("The URL.", shapes.SIGNED_URL_RESPONSE)}, errors=(403, 409),
     description="409 document_not_clean while the document's virus scan has not found its "
                 "bytes clean (details.scan_status; Retry-After while it is pending).")
async def download_url(request: Request, params: dict[str, str]) -> Response:
    ctx = request_context(request)
    document = await documents_uc.require_document(ctx, request.path_params["id"])
    signed = documents_uc.download_url(ctx, document, integer(params.get("expires_in")))
    return JSONResponse(respond(shapes.SIGNED_URL_RESPONSE, data=signed))


@api("GET", "/v1/documents/{id}/file",
     summary="What a document's bytes are: detected type, virus scan, page count",
     operation_id="document_file", tag="documents", params=(DOCUMENT_ID,),
     responses={200: ("What docgraph found in the bytes.", shapes.DOCUMENT_FILE_RESPONSE)},
     errors=(403,))
async def document_file(request: Request, params: dict[str, str]) -> Response:
    found = await documents_uc.document_file(request_context(request),
                                             request.path_params["id"])
    return JSONResponse(respond(shapes.DOCUMENT_FILE_RESPONSE, data=found))
