"""``/storage/{key}``: the local backend's signed PUT and GET, served by docgraph.

No API key is needed here: the URL's signature is the credential (see
``resolvers.transfers``). Uploads stream to disk with their own size limit,
the one they were signed for. Browsers on the configured origins may PUT and
GET here directly (CORS).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from docgraph.http.context import services
from docgraph.resolvers import transfers


async def storage_object(request: Request) -> Response:
    store = services(request.app).store
    key = request.path_params["key"]
    if request.method == "PUT":
        await transfers.receive_upload(
            store, key, request.query_params,
            content_type=request.headers.get("content-type", ""),
            content_length=request.headers.get("content-length"), body=request.stream())
        return Response(status_code=200)
    return await _download(request, await transfers.open_download(store, key,
                                                                  request.query_params))


async def _download(request: Request, download: transfers.Download) -> Response:
    info = download.info
    headers = {
        "Content-Length": str(info.size),
        "Content-Type": info.content_type or "application/octet-stream",
        "Last-Modified": info.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Cache-Control": f"private, max-age={download.seconds_left}",
        "X-Content-Type-Options": "nosniff",
        # User content served from the API's origin must never run as a page of it.
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if download.file_name:
        headers["Content-Disposition"] = transfers.content_disposition(download.file_name)
    if request.method == "HEAD":
        download.close()
        return Response(status_code=200, headers=headers)
    return StreamingResponse(download.chunks(), status_code=200, headers=headers)
