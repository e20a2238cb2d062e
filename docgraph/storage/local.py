"""The local backend: objects as files under a root directory.

docgraph itself serves the signed URLs (``/storage/{key}``, see
``storage.http``). An object is a plain file at ``root/key``; its content
type sits beside it in ``.NAME.meta``. Every write goes to a temporary
``.NAME-*.tmp`` file in the same directory, is fsynced, then renamed into
place, so a reader sees either no object or all of it. Uploads are
write-once: they are linked into place, which fails when an object exists.
Filesystem failures other than a missing file become ``Unavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import math
import os
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlencode

import orjson

from docgraph.errors import (
    NotFound,
    ObjectExists,
    PayloadTooLarge,
    Unavailable,
    ValidationError,
)
from docgraph.storage.base import (
    READ_CHUNK_BYTES,
    ObjectInfo,
    ObjectStore,
    PresignedDownload,
    PresignedUpload,
    StoreLimits,
    utc_timestamp,
)
from docgraph.storage.keys import validate_key, validate_prefix
from docgraph.storage.names import safe_file_name
from docgraph.storage.signing import UrlSigner

WRITE_BUFFER_BYTES = 1024 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"


@contextlib.contextmanager
def _disk_errors() -> Iterator[None]:
    """Filesystem failures (full disk, permissions, I/O) as 503 ``unavailable``."""
    try:
        yield
    except OSError as exc:
        raise Unavailable(f"local object storage failed: {exc.strerror or exc}") from exc


class LocalObjectStore(ObjectStore):
    backend = "local"

    def __init__(self, root: Path, *, secret: str, url_prefix: str,
                 limits: StoreLimits) -> None:
        """``url_prefix``: where the app serves this store's signed transfers, the key
        following it (``http://host:8000/storage/``)."""
        super().__init__(limits)
        self.root = Path(os.path.abspath(root))
        self.signer = UrlSigner(secret)
        self.url_prefix = url_prefix

    # -- paths -------------------------------------------------------------------

    def path_of(self, key: str) -> Path:
        """The file of ``key``; the resolved path must stay under the root."""
        path = self.root / validate_key(key, "key")
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValidationError("the object key leaves the storage root",
                                  details={"field": "key"})
        return path

    @staticmethod
    def meta_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.meta")

    def url(self, key: str, query: dict) -> str:
        return f"{self.url_prefix}{quote(key, safe='/')}?{urlencode(query)}"

    # -- signed URLs -------------------------------------------------------------

    def presign_upload(self, key: str, *, content_type: str, size: int,
                       expires_in: int | None = None) -> PresignedUpload:
        key = self.check_upload(key, content_type, size)
        expires = math.ceil(time.time()) + self.upload_lifetime(expires_in)
        return PresignedUpload(
            url=self.url(key, self.signer.upload_query(key, expires, content_type, size)),
            method="PUT",
            # Uploads are write-once here anyway; the header keeps clients backend-agnostic.
            headers={"Content-Type": content_type, "If-None-Match": "*"},
            expires_at=utc_timestamp(expires),
        )

    def presign_download(self, key: str, *, expires_in: int | None = None,
                         file_name: str | None = None) -> PresignedDownload:
        key = validate_key(key, "key")
        expires = math.ceil(time.time()) + self.download_lifetime(expires_in)
        name = safe_file_name(file_name) if file_name else ""
        return PresignedDownload(url=self.url(key, self.signer.download_query(key, expires, name)),
                                 expires_at=utc_timestamp(expires))

    # -- reading -----------------------------------------------------------------

    def _stat(self, key: str) -> ObjectInfo | None:
        path = self.path_of(key)
        with _disk_errors():
            try:
                st = path.stat()
            except (FileNotFoundError, NotADirectoryError):
                return None
            return ObjectInfo(key=key, size=st.st_size, content_type=self._content_type(path),
                              last_modified=utc_timestamp(int(st.st_mtime)))

    def _content_type(self, path: Path) -> str:
        try:
            meta = orjson.loads(self.meta_path(path).read_bytes())
            return str(meta["content_type"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return DEFAULT_CONTENT_TYPE

    async def stat(self, key: str) -> ObjectInfo | None:
        return await asyncio.to_thread(self._stat, key)

    def open(self, key: str) -> tuple[IO[bytes], ObjectInfo]:
        """An open file of the object and its info (blocking; ``NotFound`` if absent).

        The open file keeps serving the bytes even if the object is deleted
        or replaced meanwhile.
        """
        path = self.path_of(key)
        with _disk_errors():
            try:
                f = path.open("rb")
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise NotFound("No such object.") from None
            st = os.fstat(f.fileno())
            info = ObjectInfo(key=key, size=st.st_size, content_type=self._content_type(path),
                              last_modified=utc_timestamp(int(st.st_mtime)))
            return f, info

    async def read(self, key: str) -> AsyncIterator[bytes]:
        f, _ = await asyncio.to_thread(self.open, key)
        try:
            async for chunk in iter_file(f):
                yield chunk
        finally:
            f.close()

    def _head(self, key: str, length: int) -> bytes | None:
        path = self.path_of(key)
        with _disk_errors():
            try:
                with path.open("rb") as f:
                    return f.read(length)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None

    async def read_head(self, key: str, length: int) -> bytes | None:
        return await asyncio.to_thread(self._head, key, length)

    def _sha256(self, key: str) -> bytes | None:
        path = self.path_of(key)
        with _disk_errors():
            try:
                with path.open("rb") as f:
                    return hashlib.file_digest(f, "sha256").digest()
            except (FileNotFoundError, NotADirectoryError):
                return None

    async def checksum_sha256(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._sha256, key)

    def _list(self, prefix: str, before: dt.datetime) -> list[ObjectInfo]:
        cutoff = before.timestamp()
        prefix = validate_prefix(prefix)
        start = self.root / prefix.rpartition("/")[0] if "/" in prefix else self.root
        found = []
        with _disk_errors():
            for directory, dirs, files in os.walk(start):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    if name.startswith("."):
                        continue
                    path = Path(directory, name)
                    key = path.relative_to(self.root).as_posix()
                    if not key.startswith(prefix):
                        continue
                    try:
                        st = path.stat()
                    except FileNotFoundError:
                        continue
                    if st.st_mtime < cutoff:
                        found.append(ObjectInfo(key, st.st_size, None,
                                                utc_timestamp(int(st.st_mtime))))
        return sorted(found, key=lambda info: info.key)

    async def list_older_than(self, prefix: str, before: dt.datetime
                              ) -> AsyncIterator[ObjectInfo]:
        for info in await asyncio.to_thread(self._list, prefix, before):
            yield info

    # -- writing -----------------------------------------------------------------

    def _new_temp(self, path: Path) -> tuple[IO[bytes], Path]:
        with _disk_errors():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
            return os.fdopen(fd, "wb"), Path(temp)

    def _commit(self, f: IO[bytes], temp: Path, path: Path, content_type: str, *,
                exclusive: bool) -> None:
        """Make the fully written ``temp`` the object at ``path``; always closes ``f``."""
        with _disk_errors():
            try:
                f.flush()
                os.fsync(f.fileno())
            finally:
                f.close()
            if exclusive and path.exists():
                raise ObjectExists()
            self._write_meta(path, orjson.dumps({"content_type": content_type}))
            if exclusive:
                try:
                    os.link(temp, path)  # fails when another upload got there first
                except FileExistsError:
                    raise ObjectExists() from None
                finally:
                    temp.unlink(missing_ok=True)
            else:
                os.replace(temp, path)
            _fsync_directory(path.parent)

    def _write_meta(self, path: Path, data: bytes) -> None:
        meta = self.meta_path(path)
        meta_temp = meta.with_name(f"{meta.name}-{os.urandom(6).hex()}.tmp")
        with meta_temp.open("wb") as m:
            m.write(data)
            m.flush()
            os.fsync(m.fileno())
        os.replace(meta_temp, meta)

    @staticmethod
    def _discard(f: IO[bytes], temp: Path) -> None:
        f.close()
        temp.unlink(missing_ok=True)

    async def write(self, key: str, data: bytes, *, content_type: str) -> None:
        path = await asyncio.to_thread(self.path_of, key)

        def work() -> None:
            f, temp = self._new_temp(path)
            try:
                with _disk_errors():
                    f.write(data)
                self._commit(f, temp, path, content_type, exclusive=False)
            except BaseException:
                self._discard(f, temp)
                raise

        await asyncio.to_thread(work)

    async def receive(self, key: str, body: AsyncIterable[bytes], *, content_type: str,
                      size: int) -> None:
        """Store an upload of exactly ``size`` bytes streamed from ``body``, write-once.

        More bytes than declared: ``PayloadTooLarge`` as soon as they arrive;
        fewer: ``ValidationError``. Either way, and if the client goes away,
        nothing is left behind.
        """
        path = await asyncio.to_thread(self.path_of, key)
        f, temp = await asyncio.to_thread(self._new_temp, path)
        committed = False
        try:
            received = 0
            buffer = bytearray()
            async for chunk in body:
                received += len(chunk)
                if received > size:
                    raise PayloadTooLarge(
                        f"The body is larger than the {size} bytes this URL was signed for.",
                        details={"declared_size": size})
                buffer += chunk
                if len(buffer) >= WRITE_BUFFER_BYTES:
                    await asyncio.to_thread(_write, f, bytes(buffer))
                    buffer.clear()
            if received < size:
                raise ValidationError(
                    f"The body has {received} bytes; this URL was signed for {size}.",
                    details={"declared_size": size, "received": received})
            if buffer:
                await asyncio.to_thread(_write, f, bytes(buffer))
            await asyncio.to_thread(self._commit, f, temp, path, content_type, exclusive=True)
            committed = True
        finally:
            if not committed:
                await asyncio.to_thread(self._discard, f, temp)

    def _delete(self, key: str) -> None:
        path = self.path_of(key)
        with _disk_errors():
            for p in (path, self.meta_path(path)):
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    p.unlink()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _move(self, source: str, target: str) -> None:
        src, dst = self.path_of(source), self.path_of(target)
        src_meta = self.meta_path(src)
        with _disk_errors():
            try:
                meta: bytes | None = src_meta.read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                meta = None
            if src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                if meta is not None:
                    self._write_meta(dst, meta)
                # Atomic: from here on nothing answers at the source. A concurrent move
                # of the same object may have got there first.
                with contextlib.suppress(FileNotFoundError):
                    os.replace(src, dst)
                for directory in {src.parent, dst.parent}:
                    _fsync_directory(directory)
            # Also what a move a crash interrupted after the rename left behind.
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                src_meta.unlink()

    async def move(self, source: str, target: str) -> None:
        """A rename within the root: atomic, and the bytes are never copied."""
        await asyncio.to_thread(self._move, source, target)

    def _purge_incomplete(self, before: dt.datetime) -> int:
        cutoff = before.timestamp()
        removed = 0
        with _disk_errors():
            for directory, _, files in os.walk(self.root):
                for name in files:
                    if name.startswith(".") and name.endswith(".tmp"):
                        path = Path(directory, name)
                        with contextlib.suppress(FileNotFoundError):
                            if path.stat().st_mtime < cutoff:
                                path.unlink()
                                removed += 1
        return removed

    async def purge_incomplete(self, before: dt.datetime) -> int:
        return await asyncio.to_thread(self._purge_incomplete, before)

    async def ready(self) -> None:
        def check() -> None:
            with _disk_errors():
                self.root.mkdir(parents=True, exist_ok=True)
                if not os.access(self.root, os.W_OK | os.X_OK):
                    raise Unavailable(f"local object storage root {self.root} is not writable")

        await asyncio.to_thread(check)

    async def close(self) -> None:
        """Nothing to release: every operation opens and closes its own files."""


def _write(f: IO[bytes], data: bytes) -> None:
    with _disk_errors():
        f.write(data)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def iter_file(f: IO[bytes], chunk_size: int = READ_CHUNK_BYTES) -> AsyncIterator[bytes]:
    """Chunks of an open file, each read off the event loop."""
    while True:
        with _disk_errors():
            chunk = await asyncio.to_thread(f.read, chunk_size)
        if not chunk:
            return
        yield chunk
