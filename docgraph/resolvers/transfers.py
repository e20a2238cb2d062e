"""The local backend's signed transfers: take an upload's bytes, hand out a download's.

No API key is involved: the URL's signature is the credential (see
``storage.signing``). Uploads are written once, with exactly the size and
type they were signed for; downloads serve the object under the file name
signed into the URL. Another backend (S3) serves its own URLs: here the
transfer is ``NotFound``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import IO

from docgraph.errors import NotFound, ObjectExists, PayloadTooLarge, ValidationError
from docgraph.storage.base import ObjectInfo, ObjectStore
from docgraph.storage.local import LocalObjectStore, iter_file
from docgraph.storage.names import content_disposition

__all__ = ["Download", "content_disposition", "open_download", "receive_upload"]


def _local(store: ObjectStore) -> LocalObjectStore:
    if not isinstance(store, LocalObjectStore):
        raise NotFound("No such path.")
    return store


async def receive_upload(store: ObjectStore, key: str, query: Mapping[str, str], *,
                         content_type: str, content_length: str | None,
                         body: AsyncIterable[bytes]) -> None:
    """Store ``body`` at ``key`` if the signed ``query`` allows this very upload.

    ``content_type`` and ``content_length`` are the headers the client sent
    (no Content-Length when sent chunked); both must be what was signed.
    """
    local = _local(store)
    signed_type, size = local.signer.verify_upload(key, query)
    if content_type != signed_type:
        raise ValidationError(
            f"Content-Type must be {signed_type!r}, as signed; got {content_type!r}.",
            details={"expected_content_type": signed_type})
    length = _declared_length(content_length)
    if length is not None and length > size:
        raise PayloadTooLarge(f"This URL accepts exactly {size} bytes; the body has {length}.",
                              details={"declared_size": size})
    if length is not None and length < size:
        raise ValidationError(f"This URL accepts exactly {size} bytes; the body has {length}.",
                              details={"declared_size": size, "received": length})
    if await local.stat(key) is not None:  # refuse before the body is sent
        raise ObjectExists()
    await local.receive(key, body, content_type=signed_type, size=size)


def _declared_length(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise ValidationError("Content-Length is not a number.")
    return int(raw)


@dataclasses.dataclass(slots=True)
class Download:
    """An object a signed URL may read: its facts, and its bytes to stream once."""

    info: ObjectInfo
    file_name: str | None
    seconds_left: int
    _file: IO[bytes]

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in iter_file(self._file):
                yield chunk
        finally:
            self._file.close()

    def close(self) -> None:
        self._file.close()


async def open_download(store: ObjectStore, key: str, query: Mapping[str, str]) -> Download:
    """The object at ``key`` if the signed ``query`` allows reading it now."""
    local = _local(store)
    file_name = local.signer.verify_download(key, query)
    f, info = await asyncio.to_thread(local.open, key)
    seconds_left = max(0, int(query["expires"]) - math.ceil(time.time()))
    return Download(info=info, file_name=file_name or None, seconds_left=seconds_left, _file=f)
