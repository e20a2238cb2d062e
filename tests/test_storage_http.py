"""The local backend's signed URLs, served by docgraph under /storage/: every way
an upload or download URL can be misused is refused, and leaves nothing behind."""

import asyncio
import hashlib
import os
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import orjson
import pytest

from .test_http import assert_error


def new_key(ext: str = "bin") -> str:
    return f"workspaces/{uuid.uuid4()}/uploads/{uuid.uuid4().hex}.{ext}"


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_key(url: str, key: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/storage/{key}"))


def leftovers(store, key: str) -> list[str]:
    """Every file in the key's directory (objects, metadata, temporary files)."""
    directory = Path(store.root, key).parent
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def test_a_large_upload_streams_to_disk_without_an_api_key(local_store, http):
    data = os.urandom(3 * 1024 * 1024 + 17)
    key = new_key("zip")
    up = local_store.presign_upload(key, content_type="application/zip", size=len(data))

    async def chunks():
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    r = await http.put(up.url, content=chunks(), headers=up.headers)  # chunked encoding
    assert r.status_code == 200, r.text
    assert await local_store.checksum_sha256(key) == hashlib.sha256(data).digest()
    assert leftovers(local_store, key) == sorted([key.rsplit("/", 1)[1],
                                                  f".{key.rsplit('/', 1)[1]}.meta"])


@pytest.mark.parametrize("tamper", ["expires", "content_type", "size", "signature", "key",
                                    "method"])
async def test_a_tampered_upload_url_is_refused(local_store, http, tamper):
    key = new_key()
    up = local_store.presign_upload(key, content_type="text/plain", size=5)
    url, method, headers = up.url, "PUT", dict(up.headers)
    query = dict(parse_qsl(urlsplit(url).query))
    other_key = new_key()
    if tamper == "expires":
        url = with_query(url, expires=str(int(query["expires"]) + 3600))
    elif tamper == "content_type":
        url = with_query(url, content_type="text/html")
        headers["Content-Type"] = "text/html"
    elif tamper == "size":
        url = with_query(url, size="6")
    elif tamper == "signature":
        flipped = "0" if query["signature"][0] != "0" else "1"
        url = with_query(url, signature=flipped + query["signature"][1:])
    elif tamper == "key":
        url = with_key(url, other_key)
    elif tamper == "method":
        method = "GET"
    body = b"hello!" if tamper == "size" else b"hello"
    r = await http.request(method, url, content=None if method == "GET" else body,
                           headers=headers)
    error = assert_error(r, 403, "invalid_signature")
    assert "signature" in error["message"]
    assert await local_store.stat(key) is None
    assert await local_store.stat(other_key) is None
    assert leftovers(local_store, key) == []


async def test_an_expired_upload_url_is_refused(local_store, http):
    key = new_key()
    query = local_store.signer.upload_query(key, int(time.time()) - 1, "text/plain", 5)
    r = await http.put(local_store.url(key, query), content=b"hello",
                       headers={"Content-Type": "text/plain"})
    error = assert_error(r, 403, "invalid_signature")
    assert "expired" in error["message"]
    assert leftovers(local_store, key) == []


async def test_an_unsigned_url_is_refused(local_store, http):
    key = new_key()
    r = await http.put(f"{local_store.url_prefix}{key}", content=b"x",
                       headers={"Content-Type": "text/plain"})
    assert_error(r, 403, "invalid_signature")
    r = await http.put(f"{local_store.url_prefix}{key}?expires=9999999999&size=1e3",
                       content=b"x")
    assert_error(r, 403, "invalid_signature")


async def chunked(*parts: bytes):
    for part in parts:
        yield part


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"0123456789!", 413, "payload_too_large"),  # Content-Length says 11
    (chunked(b"01234", b"56789", b"!"), 413, "payload_too_large"),  # no Content-Length
    (b"012345678", 400, "validation_error"),
    (chunked(b"0123", b"45678"), 400, "validation_error"),
    (b"", 400, "validation_error"),
])
async def test_a_body_of_another_size_is_refused_and_leaves_nothing(local_store, http, body,
                                                                   status, code):
    key = new_key()
    up = local_store.presign_upload(key, content_type="text/plain", size=10)
    r = await http.put(up.url, content=body, headers=up.headers)
    error = assert_error(r, status, code)
    assert error["details"]["declared_size"] == 10
    assert await local_store.stat(key) is None
    assert leftovers(local_store, key) == []
    # The URL still works for the right body.
    r = await http.put(up.url, content=b"0123456789", headers=up.headers)
    assert r.status_code == 200


@pytest.mark.parametrize("sent", [None, "text/html", "text/plain; charset=utf-8", "TEXT/PLAIN"])
async def test_another_content_type_is_refused(local_store, http, sent):
    key = new_key()
    up = local_store.presign_upload(key, content_type="text/plain", size=5)
    headers = {} if sent is None else {"Content-Type": sent}
    r = await http.put(up.url, content=b"hello", headers=headers)
    error = assert_error(r, 400, "validation_error")
    assert "text/plain" in error["message"]
    assert await local_store.stat(key) is None
    assert leftovers(local_store, key) == []


async def test_an_interrupted_upload_leaves_no_half_object(local_store, server):
    key = new_key()
    up = local_store.presign_upload(key, content_type="text/plain", size=100_000)
    parts = urlsplit(up.url)
    request = (f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               "Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(request + b"x" * 40_000)
        for _ in range(500):  # wait until the server is receiving into its temporary file
            if any(name.endswith(".tmp") for name in leftovers(local_store, key)):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the upload never started")
    for _ in range(500):  # the server notices the disconnect and cleans up
        if not leftovers(local_store, key):
            break
        await asyncio.sleep(0.02)
    assert leftovers(local_store, key) == []
    assert await local_store.stat(key) is None


async def test_download_head_and_security_headers(local_store, http):
    key = new_key("html")
    await local_store.write(key, b"<script>alert(1)</script>", content_type="text/html")
    url = local_store.presign_download(key).url
    r = await http.get(url)
    assert r.status_code == 200
    assert r.content == b"<script>alert(1)</script>"
    assert r.headers["content-type"] == "text/html"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    head = await http.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(r.content))
    assert head.headers["content-type"] == "text/html"


@pytest.mark.parametrize("tamper", ["filename", "expires", "key", "expired"])
async def test_a_tampered_or_expired_download_url_is_refused(local_store, http, tamper):
    key = new_key("pdf")
    await local_store.write(key, b"%PDF-1.7", content_type="application/pdf")
    url = local_store.presign_download(key, file_name="report.pdf").url
    other = new_key("pdf")
    await local_store.write(other, b"%PDF-secret", content_type="application/pdf")
    if tamper == "filename":
        url = with_query(url, filename="evil.html")
    elif tamper == "expires":
        url = with_query(url, expires=str(int(time.time()) + 10**6))
    elif tamper == "key":
        url = with_key(url, other)
    else:
        query = local_store.signer.download_query(key, int(time.time()) - 1, "")
        url = local_store.url(key, query)
    for method in ("GET", "HEAD"):
        r = await http.request(method, url)
        assert r.status_code == 403
    assert_error(await http.get(url), 403, "invalid_signature")


async def test_a_download_of_a_missing_object_is_404(local_store, http):
    r = await http.get(local_store.presign_download(new_key()).url)
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize(("key", "path"), [
    ("../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd"),
    ("workspaces/../../secret", "workspaces/%2E%2E/%2E%2E/secret"),
    ("a\\..\\..\\x", "a%5C..%5C..%5Cx"),
    ("/x", "%2Fx"),
    (".hidden", ".hidden"),
])
async def test_traversal_keys_are_refused_even_when_signed(local_store, http, key, path):
    """Even a URL signed for a bad key (which docgraph never signs) cannot leave the root."""
    query = local_store.signer.download_query(key, int(time.time()) + 60, "")
    r = await http.get(f"{local_store.url_prefix}{path}?{urlencode(query)}")
    assert_error(r, 400, "validation_error")
    assert b"root:" not in r.content
    query = local_store.signer.upload_query(key, int(time.time()) + 60, "text/plain", 6)
    r = await http.put(f"{local_store.url_prefix}{path}?{urlencode(query)}",
                       content=b"secret", headers={"Content-Type": "text/plain"})
    assert_error(r, 400, "validation_error")
    outside = Path(local_store.root).parent
    assert not (outside / "secret").exists() and not (outside / "x").exists()


async def test_a_symlink_out_of_the_root_is_not_followed(local_store, http, tmp_path):
    (tmp_path / "secret.txt").write_text("top secret")
    link_dir = Path(local_store.root, "workspaces", str(uuid.uuid4()))
    os.makedirs(link_dir)
    (link_dir / "link").symlink_to(tmp_path)
    key = f"{link_dir.relative_to(local_store.root).as_posix()}/link/secret.txt"
    r = await http.get(local_store.presign_download(key).url)
    assert_error(r, 400, "validation_error")
    assert b"top secret" not in r.content


def raw_exchange(host: str, port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are, read the answer until the server closes the connection."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"{name} twice in {head!r}"
        headers[name.lower()] = value.strip()
    if "content-length" in headers:
        assert len(body) == int(headers["content-length"]), answer
    return int(status_line.split()[1]), headers, body


def assert_malformed_request_answer(status, headers, body, reason=None):
    """uvicorn refused to parse it: the documented error body, not plain text."""
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    error = orjson.loads(body)["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == "validation_error"
    assert error["request_id"] == headers["x-request-id"]
    assert error["request_id"].startswith("req_")
    if reason is not None:
        assert error["details"] == {"reason": reason}
        assert reason in error["message"]


MALFORMED = [
    ("Content-Length: abc\r\n", "Invalid character in Content-Length"),
    ("Content-Length: -1\r\n", "Invalid character in Content-Length"),
    ("Content-Length: 1, 1\r\n", "Invalid character in Content-Length"),
    ("Content-Length: 99999999999999999999999\r\n", "Content-Length overflow"),
    ("Content-Length: 5\r\nContent-Length: 6\r\n", "Duplicate Content-Length"),
    ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
     "Transfer-Encoding can't be present with Content-Length"),
    ("Bad Header: 1\r\n", "Invalid header token"),
    ("X-Value: a\x01b\r\n", "Invalid header value char"),
]


@pytest.mark.parametrize(("header", "reason"), MALFORMED,
                         ids=[m[1] for m in MALFORMED])
def test_a_put_with_a_malformed_header_gets_the_documented_error_body(local_store, header,
                                                                      reason):
    key = new_key()
    up = local_store.presign_upload(key, content_type="text/plain", size=5)
    parts = urlsplit(up.url)
    request = (f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               f"Content-Type: text/plain\r\n{header}\r\nhello").encode("latin-1")
    status, headers, body = raw_exchange(parts.hostname, parts.port, request)
    assert_malformed_request_answer(status, headers, body, reason)
    assert leftovers(local_store, key) == []


def test_a_malformed_chunked_body_or_request_line_gets_the_documented_error_body(server):
    parts = urlsplit(server.url)
    for request, reason in [
        (b"PUT /storage/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
         "Invalid character in chunk size"),
        (b"PUT /storage/x HTTP/9.9\r\nHost: a\r\n\r\n", "Invalid HTTP version"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", None),  # TLS to a plain-HTTP port
    ]:
        assert_malformed_request_answer(*raw_exchange(parts.hostname, parts.port, request),
                                        reason)
