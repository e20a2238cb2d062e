"""The s3 backend: MinIO or any S3-compatible service, through the minio SDK.

One client per process, created with ``region=`` so nothing ever looks the
region up. The SDK is synchronous: every call runs on a small bounded thread
pool, under a deadline, with urllib3 connect/read timeouts and few retries,
so an unreachable service answers ``Unavailable`` within seconds instead of
hanging a request. Signed URLs are computed locally (``storage.sigv4``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import functools
import hashlib
import io
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.error import MinioException, S3Error

from docgraph.errors import NotFound, Unavailable
from docgraph.storage import sigv4
from docgraph.storage.base import (
    READ_CHUNK_BYTES,
    ObjectInfo,
    ObjectStore,
    PresignedDownload,
    PresignedUpload,
    StoreLimits,
)
from docgraph.storage.keys import validate_key, validate_prefix
from docgraph.storage.names import content_disposition, safe_file_name

log = logging.getLogger("docgraph.storage.s3")

T = TypeVar("T")

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})
BUCKET_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
LIST_BATCH = 1000


class _Missing(Exception):
    """The object is not there (translated by each caller)."""


class S3ObjectStore(ObjectStore):
    backend = "s3"

    def __init__(self, *, endpoint: str, base_url: str, bucket: str, access_key: str,
                 secret_key: str, region: str, secure: bool, timeout: float,
                 limits: StoreLimits, max_workers: int = 16) -> None:
        super().__init__(limits)
        self.bucket = bucket
        self.region = region
        self.base_url = base_url
        self.timeout = timeout
        self._access_key = access_key
        self._secret_key = secret_key
        self.http = urllib3.PoolManager(
            num_pools=4,
            maxsize=max_workers,
            timeout=urllib3.Timeout(connect=min(timeout, 3.0), read=timeout),
            retries=urllib3.Retry(total=2, connect=1, read=0, backoff_factor=0.1,
                                  status_forcelist=[500, 502, 503, 504],
                                  raise_on_status=False),
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        )
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                            secure=secure, region=region, http_client=self.http)
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="docgraph-s3")
        # Per call: the connect and read timeouts, their retries, and some slack.
        self.deadline = 3 * timeout + 1.0

    # -- running SDK calls -------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the pool, within the deadline; failures → Unavailable."""
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))
        except RuntimeError as exc:  # the pool is shut down: the app is stopping
            raise Unavailable("object storage client is closed") from exc
        try:
            return await asyncio.wait_for(future, self.deadline)
        except S3Error as exc:
            if exc.code in MISSING_OBJECT_CODES:
                raise _Missing() from exc
            log.error("object storage refused a request: %s (%s)", exc.code, exc.message)
            raise Unavailable(f"object storage refused the request: {exc.code}") from exc
        except (TimeoutError, MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("object storage unreachable: %s", exc.__class__.__name__)
            raise Unavailable("object storage is unreachable; retry shortly") from exc

    # -- signed URLs -------------------------------------------------------------

    def _presign(self, method: str, key: str, expires_in: int, *,
                 headers: dict[str, str] | None = None,
                 query: dict[str, str] | None = None) -> tuple[str, dt.datetime]:
        now = dt.datetime.fromtimestamp(int(time.time()), dt.UTC)
        url = sigv4.presign(method=method, base_url=self.base_url, bucket=self.bucket, key=key,
                            region=self.region, access_key=self._access_key,
                            secret_key=self._secret_key, expires=expires_in, now=now,
                            headers=headers, query=query)
        return url, now + dt.timedelta(seconds=expires_in)

    def presign_upload(self, key: str, *, content_type: str, size: int,
                       expires_in: int | None = None) -> PresignedUpload:
        key = self.check_upload(key, content_type, size)
        headers = {"Content-Type": content_type, "If-None-Match": "*"}
        url, expires_at = self._presign(
            "PUT", key, self.upload_lifetime(expires_in),
            headers={**headers, "Content-Length": str(size)})
        return PresignedUpload(url=url, method="PUT", headers=headers, expires_at=expires_at)

    def presign_download(self, key: str, *, expires_in: int | None = None,
                         file_name: str | None = None) -> PresignedDownload:
        key = validate_key(key, "key")
        query = {}
        if file_name and safe_file_name(file_name):
            query["response-content-disposition"] = content_disposition(file_name)
        url, expires_at = self._presign("GET", key, self.download_lifetime(expires_in),
                                        query=query)
        return PresignedDownload(url=url, expires_at=expires_at)

    # -- bytes -------------------------------------------------------------------

    async def stat(self, key: str) -> ObjectInfo | None:
        key = validate_key(key, "key")
        try:
            obj = await self._call(self.client.stat_object, self.bucket, key)
        except _Missing:
            return None
        assert obj.size is not None and obj.last_modified is not None
        return ObjectInfo(key=key, size=obj.size, content_type=obj.content_type,
                          last_modified=obj.last_modified)

    async def _open(self, key: str) -> Any:
        try:
            return await self._call(self.client.get_object, self.bucket,
                                    validate_key(key, "key"))
        except _Missing:
            raise NotFound("No such object.") from None

    async def read(self, key: str) -> AsyncIterator[bytes]:
        response = await self._open(key)
        try:
            while chunk := await self._call(response.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def read_head(self, key: str, length: int) -> bytes | None:
        """One ranged GET (``Range: bytes=0-{length - 1}``)."""
        key = validate_key(key, "key")

        def get() -> bytes:
            response = self.client.get_object(self.bucket, key, offset=0, length=length)
            try:
                return bytes(response.read(length))[:length]
            finally:
                response.close()
                response.release_conn()

        try:
            return await self._call(get)
        except _Missing:
            return None

    async def checksum_sha256(self, key: str) -> bytes | None:
        try:
            response = await self._open(key)
        except NotFound:
            return None
        digest = hashlib.sha256()

        def read_and_hash() -> int:
            chunk = response.read(READ_CHUNK_BYTES)
            digest.update(chunk)
            return len(chunk)

        try:
            while await self._call(read_and_hash):
                pass
        finally:
            response.close()
            response.release_conn()
        return digest.digest()

    async def write(self, key: str, data: bytes, *, content_type: str) -> None:
        await self._call(self.client.put_object, self.bucket, validate_key(key, "key"),
                         io.BytesIO(data), len(data), content_type=content_type)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(_Missing):  # already gone
            await self._call(self.client.remove_object, self.bucket, validate_key(key, "key"))

    async def move(self, source: str, target: str) -> None:
        """A server-side copy, then the source removed. A failure between the two
        leaves both (nothing is lost); repeating the move finishes it."""
        source, target = validate_key(source, "key"), validate_key(target, "key")
        try:
            await self._call(self.client.copy_object, self.bucket, target,
                             CopySource(self.bucket, source))
        except _Missing:  # moved already (or never there): nothing to copy
            return
        await self.delete(source)

    async def list_older_than(self, prefix: str, before: dt.datetime
                              ) -> AsyncIterator[ObjectInfo]:
        objects = self.client.list_objects(self.bucket, prefix=validate_prefix(prefix) or None,
                                           recursive=True)
        while batch := await self._call(lambda: list(itertools.islice(objects, LIST_BATCH))):
            for obj in batch:
                if obj.is_dir or obj.last_modified is None or obj.last_modified >= before:
                    continue
                yield ObjectInfo(key=obj.object_name or "", size=obj.size or 0,
                                 content_type=None, last_modified=obj.last_modified)

    async def ready(self) -> None:
        def create() -> bool:
            if self.client.bucket_exists(self.bucket):
                return False
            try:
                self.client.make_bucket(self.bucket, location=self.region)
            except S3Error as exc:  # another instance created it meanwhile
                if exc.code not in BUCKET_EXISTS_CODES:
                    raise
                return False
            return True

        if await self._call(create):
            log.info("created bucket %s", self.bucket)

    async def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.http.clear()

