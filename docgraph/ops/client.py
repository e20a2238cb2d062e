"""The public REST API as the command line uses it: ``docgraph upload``.

A client like any other: it knows the service only by its URL and an API
key, and does what the README's signed-upload flow describes — ask for an
upload URL, PUT the bytes to it (never with the API key: the URL is signed,
and may be another host's), record the document, link it. Every ``POST``
carries an ``Idempotency-Key``, so a request retried after a 429 or 503 (the
only answers retried, after their ``Retry-After``) never runs twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import mimetypes
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

import docgraph
from docgraph.resolvers.records import EntityType
from docgraph.resolvers.validation import ROLE_MAX

CHUNK_BYTES = 256 * 1024
# Retries of a 429 or 503 (which did nothing), each after its Retry-After (at most this).
RETRIES = 3
LONGEST_WAIT_SECONDS = 30.0
# ``--link business:ID`` is a company (GraphQL's ``Business``, REST's /v1/businesses).
ENTITY_ALIASES = {"business": EntityType.COMPANY.value}


class ClientError(Exception):
    """A failure of ``docgraph upload``, one line long."""


class BadInput(ClientError):
    """The command line itself is wrong (exit status 1): nothing was sent."""


class Refused(ClientError):
    """The service answered with a refusal (a 4xx; exit status 2)."""

    def __init__(self, message: str, *, status: int, code: str | None = None,
                 request_id: str | None = None) -> None:
        self.status = status
        self.code = code
        self.request_id = request_id
        where = f" (request {request_id})" if request_id else ""
        super().__init__(f"{code or f'HTTP {status}'}: {message}{where}")


class Unreachable(ClientError):
    """The service could not be reached, timed out or failed (5xx; exit status 3)."""


@dataclasses.dataclass(frozen=True)
class Link:
    """One ``--link TYPE:ID[:ROLE]``."""

    entity_type: str
    entity_id: uuid.UUID
    role: str | None

    @classmethod
    def parse(cls, text: str) -> Link:
        kind, _, rest = text.partition(":")
        ident, has_role, role = rest.partition(":")
        kind = ENTITY_ALIASES.get(kind.strip().lower(), kind.strip().lower())
        types = [t.value for t in EntityType]
        if not ident or kind not in types:
            raise BadInput(f"--link {text!r}: expected TYPE:ID[:ROLE] with TYPE one of "
                           f"{', '.join(types)}")
        try:
            entity_id = uuid.UUID(ident.strip())
        except ValueError:
            raise BadInput(f"--link {text!r}: {ident!r} is not a UUID") from None
        if has_role and not 1 <= len(role) <= ROLE_MAX:
            raise BadInput(f"--link {text!r}: a role has 1 to {ROLE_MAX} characters")
        return cls(kind, entity_id, role if has_role else None)

    def __str__(self) -> str:
        return f"{self.entity_type}:{self.entity_id}" + (f":{self.role}" if self.role else "")


@dataclasses.dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    mime_type: str

    @classmethod
    def check(cls, text: str, mime_type: str | None = None) -> LocalFile:
        """The file at ``text``, if it can be uploaded (``BadInput`` otherwise)."""
        path = Path(text)
        try:
            if not path.is_file():
                raise BadInput(f"{text}: no such file" if not path.exists()
                               else f"{text}: not a regular file")
            with path.open("rb"):
                pass
            size = path.stat().st_size
        except OSError as exc:
            raise BadInput(f"{text}: {exc.strerror or exc}") from None
        guessed, _ = mimetypes.guess_type(path.name, strict=False)
        return cls(path, size, mime_type or guessed or "application/octet-stream")

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()


class Progress(Protocol):
    def __call__(self, done: int) -> None: ...


class Api:
    """Calls to ``base_url``'s REST API with ``key``; errors become :class:`ClientError`."""

    def __init__(self, base_url: str, key: str, *, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        timeouts = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        agent = f"docgraph-cli/{docgraph.__version__}"
        self.http = httpx.Client(base_url=self.base_url, timeout=timeouts, headers={
            "Authorization": f"Bearer {key}", "User-Agent": agent})
        # The signed URLs: no API key goes there.
        self.storage = httpx.Client(timeout=timeouts, headers={"User-Agent": agent})
        self.sleep = sleep

    def close(self) -> None:
        self.http.close()
        self.storage.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The ``data`` of the answer to ``method path`` (JSON ``body``)."""
        headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else {}
        for attempt in range(RETRIES + 1):
            response = self._send(self.http, self.base_url, method, path, json=body,
                                  headers=headers)
            wait = _retry_after(response)
            if wait is None or attempt == RETRIES:
                break
            print(f"docgraph: {method} {path}: {response.status_code} "
                  f"{_error_code(response) or ''}; sending it again in {wait:g} s",
                  file=sys.stderr, flush=True)
            self.sleep(wait)
        _check(response)
        try:
            return response.json()["data"]
        except (ValueError, KeyError, TypeError):
            raise Unreachable(f"{method} {path}: the service answered "
                              f"{response.status_code} without a JSON body") from None

    def put(self, url: str, headers: dict[str, str], f: IO[bytes], size: int,
            progress: Progress) -> None:
        """PUT ``size`` bytes of ``f`` to the signed ``url``, reporting progress."""
        progress(0)

        def chunks() -> Iterator[bytes]:
            done = 0
            while chunk := f.read(CHUNK_BYTES):
                yield chunk
                done += len(chunk)
                progress(done)

        sent = {**headers, "Content-Length": str(size)}
        response = self._send(self.storage, url, "PUT", url, content=chunks(), headers=sent)
        _check(response)

    @staticmethod
    def _send(client: httpx.Client, where: str, method: str, url: str,
              **kwargs: Any) -> httpx.Response:
        try:
            return client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise Unreachable(f"{_origin(where)} did not answer in time") from None
        except httpx.TransportError as exc:
            reason = str(exc) or exc.__class__.__name__
            raise Unreachable(f"cannot reach {_origin(where)}: {reason}") from None


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}"


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait before sending again, if ``response`` says the request did nothing."""
    if response.status_code not in (429, 503):
        return None
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.0),
                   LONGEST_WAIT_SECONDS)
    except ValueError:
        return 1.0


def _error(response: httpx.Response) -> dict[str, Any]:
    """docgraph's error body (``{"error": {"code", "message", ...}}``), or ``{}``."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return {}
    return error if isinstance(error, dict) else {}


def _error_code(response: httpx.Response) -> str | None:
    code = _error(response).get("code")
    return code if isinstance(code, str) else None


def _check(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    error = _error(response)
    code, message = _error_code(response), error.get("message")
    if message is None:  # not docgraph's error body (an S3 service's XML, a proxy's page)
        message = " ".join(response.text.split())[:200] or response.reason_phrase
    request_id = response.headers.get("x-request-id")
    if response.status_code >= 500:
        where = f" (request {request_id})" if request_id else ""
        raise Unreachable(f"{code or f'HTTP {response.status_code}'}: {message}{where}")
    raise Refused(message, status=response.status_code, code=code, request_id=request_id)


@dataclasses.dataclass
class Uploaded:
    """A file recorded as a document, and the links made so far."""

    file: LocalFile
    document: dict[str, Any]
    links: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {**self.document, "file": str(self.file.path), "links": self.links}


def check_links(api: Api, links: list[Link]) -> None:
    """Refuse, before any byte is sent, links to entities that do not exist.

    A key without ``read:documents`` cannot look; the link itself will tell.
    """
    for link in links:
        try:
            entity = api.call("GET", f"/v1/entities/{link.entity_id}")
        except Refused as exc:
            if exc.code == "insufficient_permissions":
                return
            if exc.code == "not_found":
                raise Refused(f"no {link.entity_type} {link.entity_id} in this workspace",
                              status=exc.status, code=exc.code,
                              request_id=exc.request_id) from None
            raise
        if entity.get("entity_type") != link.entity_type:
            raise Refused(f"no {link.entity_type} {link.entity_id} in this workspace (it is a "
                          f"{entity.get('entity_type')})", status=404, code="not_found")


def upload(api: Api, file: LocalFile, *, links: list[Link], folder: str | None,
           tags: list[str], progress: Progress, done: Callable[[Uploaded], None]) -> Uploaded:
    """Upload ``file`` as a document and link it; ``done`` hears of the document as
    soon as it is recorded (it exists even if a link then fails)."""
    sha256 = file.sha256()
    ticket = api.call("POST", "/v1/documents/upload-url", {
        "file_name": file.path.name, "mime_type": file.mime_type, "size_bytes": file.size,
        "sha256": sha256})
    with file.path.open("rb") as f:
        if os.fstat(f.fileno()).st_size != file.size:
            raise ClientError(f"{file.path}: the file changed while it was being uploaded")
        api.put(ticket["upload_url"], dict(ticket["headers"]), f, file.size, progress)
    record: dict[str, Any] = {"name": file.path.name, "mime_type": file.mime_type,
                              "storage_path": ticket["storage_path"], "sha256": sha256}
    if folder is not None:
        record["folder"] = folder
    if tags:
        record["tags"] = tags
    result = Uploaded(file, api.call("POST", "/v1/documents", record))
    done(result)
    for link in links:
        body: dict[str, Any] = {"entity_type": link.entity_type,
                                "entity_id": str(link.entity_id)}
        if link.role is not None:
            body["role"] = link.role
        result.links.append(api.call("POST", f"/v1/documents/{result.document['id']}/link",
                                     body))
    return result


def format_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class PlainProgress:
    """Progress as plain lines, for a log (stderr is no terminal): the start, each
    quarter of a file over 1 MiB, the end."""

    QUARTERS_FROM_BYTES = 1 << 20

    def __init__(self, file: LocalFile, stream: IO[str] = sys.stderr) -> None:
        self.file = file
        self.stream = stream
        self.quarter = 0
        self.started = time.monotonic()
        self.finished = False
        self.begun = False

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def __call__(self, done: int) -> None:
        if not self.begun:
            self.begun = True
            self._line(f"uploading {self.file.path.name} ({format_size(self.file.size)})")
        if done >= self.file.size:
            self._finish()
            return
        if self.file.size < self.QUARTERS_FROM_BYTES:
            return
        while self.quarter < 4 * done // self.file.size:
            self.quarter += 1
            self._line(f"  {self.file.path.name}: {25 * self.quarter}% "
                       f"({format_size(self.file.size * self.quarter / 4)})")

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            took = time.monotonic() - self.started
            self._line(f"  {self.file.path.name}: 100% ({format_size(self.file.size)} "
                       f"in {took:.1f} s)")

    def close(self) -> None:
        pass


class BarProgress:
    """Progress as a tqdm bar (stderr is a terminal)."""

    def __init__(self, file: LocalFile, stream: IO[str] = sys.stderr) -> None:
        from tqdm import tqdm

        self.done = 0
        try:
            width, height = os.get_terminal_size(stream.fileno())
        except (OSError, ValueError):
            width = height = 0
        # A terminal that tells no size (0 x 0: a bare pseudo-terminal) gets 80 x 24;
        # tqdm would draw nothing in 0 rows.
        self.bar = tqdm(total=file.size, desc=file.path.name, unit="B", unit_scale=True,
                        unit_divisor=1024, file=stream, leave=True, ncols=width or 80,
                        nrows=height or 24, dynamic_ncols=bool(width and height))

    def __call__(self, done: int) -> None:
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        self.bar.close()


class NoProgress:
    def __init__(self, file: LocalFile, stream: IO[str] = sys.stderr) -> None:
        pass

    def __call__(self, done: int) -> None:
        pass

    def close(self) -> None:
        pass
