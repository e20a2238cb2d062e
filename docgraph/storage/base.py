"""The object-store interface every backend implements, and what it returns.

Presigning is pure computation (no I/O), so ``presign_*`` are plain
methods; everything that touches the bytes is a coroutine that raises
:class:`~docgraph.errors.Unavailable` when the store cannot be reached in
time, never hangs.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import math
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from docgraph.errors import Unavailable, ValidationError
from docgraph.storage.keys import validate_key

READ_CHUNK_BYTES = 256 * 1024
# ensure_available: how long a good answer is trusted, and how long after a
# failure callers are answered at once instead of each waiting for a timeout.
HEALTHY_FOR_SECONDS = 5.0
DOWN_FOR_SECONDS = 2.0


@dataclasses.dataclass(frozen=True, slots=True)
class StoreLimits:
    """URL lifetimes (seconds) and the largest object, from the configuration."""

    upload_url_seconds: int = 900
    download_url_seconds: int = 3600
    download_url_max_seconds: int = 86400
    max_object_bytes: int = 1024**3


@dataclasses.dataclass(frozen=True, slots=True)
class PresignedUpload:
    """Where and how a client uploads: send ``method`` to ``url`` with ``headers``."""

    url: str
    method: str
    headers: dict[str, str]
    expires_at: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class PresignedDownload:
    url: str
    expires_at: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str | None
    last_modified: dt.datetime


def utc_timestamp(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class ObjectStore(abc.ABC):
    """Object storage, keyed by ``/``-separated keys (see ``storage.keys``)."""

    backend: ClassVar[str]

    def __init__(self, limits: StoreLimits) -> None:
        self.limits = limits
        self._healthy_until = 0.0
        self._down_until = 0.0

    # -- signed URLs (no I/O) ------------------------------------------------

    @abc.abstractmethod
    def presign_upload(self, key: str, *, content_type: str, size: int,
                       expires_in: int | None = None) -> PresignedUpload:
        """A URL that accepts exactly ``size`` bytes of ``content_type`` at ``key``.

        The upload is refused when the body's length or type differs, after
        expiry, and when an object already exists at ``key`` (write-once).
        """

    @abc.abstractmethod
    def presign_download(self, key: str, *, expires_in: int | None = None,
                         file_name: str | None = None) -> PresignedDownload:
        """A URL that serves the object; with ``file_name``, as an attachment of that name."""

    # -- bytes -----------------------------------------------------------------

    @abc.abstractmethod
    async def stat(self, key: str) -> ObjectInfo | None:
        """The object's size and type, or None when there is no object at ``key``."""

    @abc.abstractmethod
    def read(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, in chunks; ``NotFound`` when there is none."""

    @abc.abstractmethod
    async def read_head(self, key: str, length: int) -> bytes | None:
        """The object's first ``length`` bytes (fewer if it is shorter), in one ranged
        read; None when there is no object at ``key``."""

    @abc.abstractmethod
    async def checksum_sha256(self, key: str) -> bytes | None:
        """SHA-256 of the object (streamed, off the event loop), or None if absent."""

    @abc.abstractmethod
    async def write(self, key: str, data: bytes, *, content_type: str) -> None:
        """Store ``data`` at ``key`` (replacing any object there), atomically."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object at ``key``; no error when there is none."""

    @abc.abstractmethod
    async def move(self, source: str, target: str) -> None:
        """Move the object at ``source`` (with its content type) to ``target``.

        Afterwards nothing answers at ``source``: URLs signed for it find no
        object. Safe to repeat, and to resume after a failure or a crash: with
        no object at ``source`` (an earlier move finished) there is nothing to
        do. Any object already at ``target`` is replaced.
        """

    @abc.abstractmethod
    def list_older_than(self, prefix: str, before: dt.datetime) -> AsyncIterator[ObjectInfo]:
        """Objects whose key starts with ``prefix``, last modified before ``before``."""

    @abc.abstractmethod
    async def ready(self) -> None:
        """Check the store answers (creating the bucket when missing), or ``Unavailable``."""

    async def ensure_available(self) -> None:
        """Return if the store answers, else ``Unavailable``; for operations that will
        need it (handing out an upload URL).

        Asks ``ready()`` at most every few seconds while the store answers.
        After a failure every caller gets ``Unavailable`` at once for a couple
        of seconds, so an outage does not make each request wait for a timeout.
        """
        now = time.monotonic()
        if now < self._healthy_until:
            return
        if now < self._down_until:
            raise Unavailable("object storage is unreachable; retry shortly",
                              retry_after=max(1, math.ceil(self._down_until - now)))
        try:
            await self.ready()
        except Unavailable:
            self._down_until = time.monotonic() + DOWN_FOR_SECONDS
            raise
        self._healthy_until = time.monotonic() + HEALTHY_FOR_SECONDS

    async def purge_incomplete(self, before: dt.datetime) -> int:
        """Remove leftovers of uploads interrupted before ``before``; return how many."""
        return 0

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and threads."""

    # -- shared checks ---------------------------------------------------------

    def upload_lifetime(self, expires_in: int | None) -> int:
        if expires_in is None:
            return self.limits.upload_url_seconds
        if not 1 <= expires_in <= self.limits.upload_url_seconds:
            raise invalid("expires_in", "an upload URL lives between 1 and "
                          f"{self.limits.upload_url_seconds} seconds",
                          max=self.limits.upload_url_seconds)
        return expires_in

    def download_lifetime(self, expires_in: int | None) -> int:
        if expires_in is None:
            return self.limits.download_url_seconds
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) \
                or not 1 <= expires_in <= self.limits.download_url_max_seconds:
            raise invalid("expires_in", "a download URL lives between 1 and "
                          f"{self.limits.download_url_max_seconds} seconds",
                          max=self.limits.download_url_max_seconds)
        return expires_in

    def check_upload(self, key: str, content_type: str, size: int) -> str:
        key = validate_key(key)
        check_header_value(content_type, "content_type")
        if not 0 <= size <= self.limits.max_object_bytes:
            raise invalid("size_bytes", f"size must be between 0 and "
                          f"{self.limits.max_object_bytes} bytes",
                          max=self.limits.max_object_bytes)
        return key


def invalid(field: str, message: str, **details: Any) -> ValidationError:
    """A ``ValidationError`` naming ``field``, shaped like every other one of the API:
    ``details["fields"]`` maps the field to the problem; ``details`` may add facts."""
    return ValidationError(message, details={"fields": {field: message}, **details})


def check_header_value(value: str, field: str) -> None:
    if not value or len(value) > 255 or any(ord(c) < 0x20 or ord(c) > 0x7E for c in value):
        raise invalid(field, f"{field} must be 1-255 printable ASCII characters")
