"""``/storage/{key}``: the local backend's signed PUT and GET, served by docgraph.

No API key is needed here: the URL's signature is the credential (see
``storage.signing``). Uploads stream to disk with their own size limit, the
one they were signed for. Browsers on the configured origins may PUT and
GET here directly (see ``docgraph.cors``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from docgraph.errors import NotFound, ObjectExists, PayloadTooLarge, ValidationError
from docgraph.storage.local import ROUTE_PREFIX, LocalObjectStore, iter_file
from docgraph.storage.names import content_disposition


def is_storage_path(path: str) -> bool:
    return path.startswith(ROUTE_PREFIX)


def local_store(request: Request) -> LocalObjectStore:
    store = request.app.state.store
    if not isinstance(store, LocalObjectStore):
        raise NotFound("No such path.")
    return store


async def storage_object(request: Request) -> Response:
    store = local_store(request)
    key = request.path_params["key"]
    if request.method == "PUT":
        return await put_object(request, store, key)
    return await get_object(request, store, key)


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise ValidationError("Content-Length is not a number.")
    return int(raw)


async def put_object(request: Request, store: LocalObjectStore, key: str) -> Response:
    content_type, size = store.signer.verify_upload(key, request.query_params)
    sent_type = request.headers.get("content-type", "")
    if sent_type != content_type:
        raise ValidationError(
            f"Content-Type must be {content_type!r}, as signed; got {sent_type!r}.",
            details={"expected_content_type": content_type})
    length = _declared_length(request)
    if length is not None and length > size:
        raise PayloadTooLarge(f"This URL accepts exactly {size} bytes; the body has {length}.",
                              details={"declared_size": size})
    if length is not None and length < size:
        raise ValidationError(f"This URL accepts exactly {size} bytes; the body has {length}.",
                              details={"declared_size": size, "received": length})
    if await store.stat(key) is not None:  # refuse before the body is sent
        raise ObjectExists()
    await store.receive(key, request.stream(), content_type=content_type, size=size)
    return Response(status_code=200)


async def get_object(request: Request, store: LocalObjectStore, key: str) -> Response:
    file_name = store.signer.verify_download(key, request.query_params)
    f, info = await asyncio.to_thread(store.open, key)
    remaining = max(0, int(request.query_params["expires"]) - math.ceil(time.time()))
    headers = {
        "Content-Length": str(info.size),
        "Content-Type": info.content_type or "application/octet-stream",
        "Last-Modified": info.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Cache-Control": f"private, max-age={remaining}",
        "X-Content-Type-Options": "nosniff",
        # User content served from the API's origin must never run as a page of it.
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if file_name:
        headers["Content-Disposition"] = content_disposition(file_name)
    if request.method == "HEAD":
        f.close()
        return Response(status_code=200, headers=headers)

    async def body() -> AsyncIterator[bytes]:
        with contextlib.closing(f):
            async for chunk in iter_file(f):
                yield chunk

    return StreamingResponse(body(), status_code=200, headers=headers)
